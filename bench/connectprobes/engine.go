package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// measureEngine runs the real engine (metrics registered, INFO logging to
// nowhere, as in production) with the real prober's connect phase until
// s.rounds rounds are published. Setup (New) is inside the measurement.
func measureEngine(s settings) measurement {
	ports, err := readPorts(s.ports)
	if err != nil {
		return measurement{Err: err.Error()}
	}
	if _, err := raiseFileLimit(uint64(s.inFlight) + 256); err != nil {
		return measurement{Err: err.Error()}
	}
	cpu0, wall0 := cpuTime(), time.Now()

	targets := make([]*probe.Target, len(ports))
	for i, p := range ports {
		targets[i] = &probe.Target{
			Protocol: "imap", Host: "127.0.0.1", Port: p, TLSMode: probe.TLSPlain,
			ConnectTimeout: 2 * time.Second, TLSTimeout: 2 * time.Second, DeepTimeout: 2 * time.Second,
		}
	}
	reg := prometheus.NewRegistry()
	engine, err := health.New([]health.Group{{
		Name:            health.GroupMail,
		ConnectInterval: s.interval, DeepInterval: s.interval,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true,
		Jitter:  s.jitter,
		Targets: targets,
	}}, &probe.Prober{}, health.Options{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Registerer:  reg,
		MaxInFlight: s.inFlight,
	})
	if err != nil {
		return measurement{Err: err.Error()}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		engine.Run(ctx)
	}()
	// Rounds are an interval apart; polling every few ms stops the engine
	// long before a further round could start.
	poll := time.NewTicker(5 * time.Millisecond)
	for engine.Snapshot().Round < uint64(s.rounds) {
		<-poll.C
	}
	poll.Stop()
	if path := os.Getenv("CONNECTPROBES_MEMPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			runtime.GC()
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	cancel()
	<-done
	if os.Getenv("CONNECTPROBES_MEMSTATS") != "" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(os.Stderr, "engine memstats: heap_sys=%dMB heap_inuse=%dMB stack_sys=%dMB sys=%dMB gc=%d\n",
			ms.HeapSys>>20, ms.HeapInuse>>20, ms.StackSys>>20, ms.Sys>>20, ms.NumGC)
	}

	m := measurement{
		Probes:   int(engine.Snapshot().Round) * len(ports),
		Failures: int(counterSum(reg, "backline_probe_failures_total")),
		CPU:      cpuTime() - cpu0,
		Wall:     time.Since(wall0),
		MaxRSSKB: maxRSSKB(),
	}
	return m
}

func counterSum(reg prometheus.Gatherer, name string) float64 {
	families, err := reg.Gather()
	if err != nil {
		return -1
	}
	var sum float64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

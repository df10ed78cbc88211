package main

import (
	"bufio"
	"cmp"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// measureDial is the baseline: the same rounds, interval, jitter spread and
// concurrency cap as the engine, but each probe is a bare net.Dial + Close.
func measureDial(s settings) measurement {
	ports, err := readPorts(s.ports)
	if err != nil {
		return measurement{Err: err.Error()}
	}
	if _, err := raiseFileLimit(uint64(s.inFlight) + 256); err != nil {
		return measurement{Err: err.Error()}
	}
	cpu0, wall0 := cpuTime(), time.Now()
	addrs := make([]string, len(ports))
	for i, p := range ports {
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	var failures atomic.Int64
	sem := make(chan struct{}, s.inFlight)
	ticker := time.NewTicker(s.interval)
	for r := range s.rounds {
		if r > 0 {
			<-ticker.C
		}
		dialRound(addrs, s.jitter, sem, &failures)
	}
	ticker.Stop()
	return measurement{
		Probes:   s.rounds * len(addrs),
		Failures: int(failures.Load()),
		CPU:      cpuTime() - cpu0,
		Wall:     time.Since(wall0),
		MaxRSSKB: maxRSSKB(),
	}
}

func dialRound(addrs []string, jitter time.Duration, sem chan struct{}, failures *atomic.Int64) {
	offsets := make([]time.Duration, len(addrs))
	order := make([]int, len(addrs))
	for i := range addrs {
		if jitter > 0 {
			offsets[i] = rand.N(jitter)
		}
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(offsets[a], offsets[b]) })
	var wg sync.WaitGroup
	start := time.Now()
	for _, i := range order {
		if wait := offsets[i] - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addrs[i], 2*time.Second)
			if err != nil {
				failures.Add(1)
				return
			}
			c.Close()
		})
	}
	wg.Wait()
}

func readPorts(path string) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ports: %w", err)
	}
	defer f.Close()
	var ports []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p, err := strconv.Atoi(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("ports file line %d: %w", len(ports)+1, err)
		}
		ports = append(ports, p)
	}
	return ports, sc.Err()
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// configuredTarget is one health-check target of a configuration file, as
// the daemon would build it.
type configuredTarget struct {
	id, group string
	target    *probe.Target
}

// configuredTargets lists the targets of the file at path (the mail group,
// then the gateway's beta_health backends), in configuration order.
func configuredTargets(path string, stderr io.Writer) ([]configuredTarget, bool) {
	cfg, err := loadConfig(path, stderr)
	if err != nil {
		return nil, false
	}
	quiet := slog.New(slog.DiscardHandler)
	groups, err := healthGroups(cfg, quiet)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return nil, false
	}
	gw, err := newGateway(cfg, quiet, nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return nil, false
	}
	if gw != nil {
		groups = append(groups, gw.HealthGroups()...)
		gw.Close()
	}
	var out []configuredTarget
	for _, g := range groups {
		for i, t := range g.Targets {
			id := health.DefaultID(t)
			if i < len(g.IDs) && g.IDs[i] != "" {
				id = g.IDs[i]
			}
			out = append(out, configuredTarget{id: id, group: g.Name, target: t})
		}
	}
	return out, true
}

// findTarget matches name against IDs, then target names, then host:port.
func findTarget(all []configuredTarget, name string) (configuredTarget, []string) {
	for _, match := range []func(c configuredTarget) bool{
		func(c configuredTarget) bool { return c.id == name },
		func(c configuredTarget) bool { return c.target.Name == name },
		func(c configuredTarget) bool { return c.target.Address() == name },
	} {
		var hits []configuredTarget
		for _, c := range all {
			if match(c) {
				hits = append(hits, c)
			}
		}
		if len(hits) == 1 {
			return hits[0], nil
		}
		if len(hits) > 1 {
			var ids []string
			for _, h := range hits {
				ids = append(ids, h.id)
			}
			return configuredTarget{}, ids
		}
	}
	return configuredTarget{}, nil
}

// probeFromConfig is `probe --config F --target NAME` and `--all`: the
// targets as configured, secrets and TLS settings included, nothing retyped.
func probeFromConfig(ctx context.Context, f *probeFlags, stdout, stderr io.Writer) int {
	all, ok := configuredTargets(f.config, stderr)
	if !ok {
		return exitFail
	}
	if len(all) == 0 {
		fmt.Fprintf(stderr, "backline probe: %s has no health-check targets\n", f.config)
		return exitFail
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	prober := &probe.Prober{Logger: logger}
	if f.all {
		return probeTable(ctx, prober, all, f.json, stdout)
	}
	c, ambiguous := findTarget(all, f.target)
	if c.target == nil {
		if len(ambiguous) > 0 {
			fmt.Fprintf(stderr, "backline probe: --target %q matches %s; give the ID\n", f.target, strings.Join(ambiguous, ", "))
		} else {
			var ids []string
			for _, c := range all {
				ids = append(ids, c.id)
			}
			fmt.Fprintf(stderr, "backline probe: no target %q in %s (targets: %s)\n", f.target, f.config, strings.Join(ids, ", "))
		}
		return exitUsage
	}
	return printCheck(ctx, prober, c.target, f.json, stdout)
}

// maxParallelProbes bounds --all: a file with hundreds of targets must not
// open hundreds of connections at once.
const maxParallelProbes = 8

// probeTable checks every target (deep where configured) and prints one
// row each; exit 0 only when every one is healthy.
func probeTable(ctx context.Context, prober *probe.Prober, all []configuredTarget, asJSON bool, stdout io.Writer) int {
	results := make([]probe.Result, len(all))
	sem := make(chan struct{}, maxParallelProbes)
	var wg sync.WaitGroup
	for i, c := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = prober.Check(ctx, c.target, phaseOf(c.target), probe.Options{})
		}()
	}
	wg.Wait()
	code := exitOK
	for _, r := range results {
		if !r.OK {
			code = exitFail
		}
	}
	if asJSON {
		reports := make([]probeReport, len(all))
		for i, c := range all {
			reports[i] = newProbeReport(c.target, results[i])
			reports[i].Target, reports[i].Group = c.id, c.group
		}
		writeJSONValue(stdout, reports)
		return code
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tGROUP\tADDRESS\tCHECK\tRESULT\tTIME\tDETAIL")
	for i, c := range all {
		r := results[i]
		result, detail := "healthy", tlsSummary(r)
		if !r.OK {
			result = "DOWN"
			detail = string(r.Reason)
			if r.Err != nil {
				detail = strings.TrimPrefix(detail+": ", ": ") + r.Err.Error()
			}
		}
		addr := c.target.Address()
		if r.RemoteAddr != "" && r.RemoteAddr != addr {
			addr += " (" + r.RemoteAddr + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.id, c.group, addr, r.Phase, result,
			r.Duration.Round(100*time.Microsecond), oneLine(detail))
	}
	tw.Flush()
	return code
}

func phaseOf(t *probe.Target) probe.Phase {
	if t.DeepCheck {
		return probe.PhaseDeep
	}
	return probe.PhaseConnect
}

// tlsSummary is the TLS part of a healthy row: version and expiry.
func tlsSummary(r probe.Result) string {
	if r.TLSVersion == "" {
		return ""
	}
	s := r.TLSVersion
	if !r.CertNotAfter.IsZero() {
		days := int(time.Until(r.CertNotAfter).Hours() / 24)
		s += fmt.Sprintf(", certificate expires %s (%d days)", r.CertNotAfter.UTC().Format("2006-01-02"), days)
	}
	return s
}

// oneLine keeps a table row on one line.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"
)

// measurement is what a child reports to the driver, as one JSON line.
type measurement struct {
	Probes   int           `json:"probes"`
	Failures int           `json:"failures"`
	CPU      time.Duration `json:"cpu"` // user + system
	MaxRSSKB int64         `json:"max_rss_kb"`
	Wall     time.Duration `json:"wall"`
	Err      string        `json:"err,omitempty"`
}

// cpuTime is this process's user+system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxRSSKB is the peak resident set size of this process (Linux: KiB).
func maxRSSKB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss
}

func report(m measurement) error {
	return json.NewEncoder(os.Stdout).Encode(m)
}

// raiseFileLimit lifts RLIMIT_NOFILE towards want (bounded by the hard
// limit) and returns the soft limit in force.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	lim.Cur = min(want, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("setrlimit NOFILE %d: %w", lim.Cur, err)
	}
	return lim.Cur, nil
}

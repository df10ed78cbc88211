package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter reads the CPU time (user+system) a proxy spent, so a run can
// report CPU per request next to throughput: on a shared machine the
// throughput of the same binary swings with the neighbours' load, its CPU
// cost per request much less.
type cpuMeter func() time.Duration

// selfCPU is this process: the gateway and the go-rproxy run here.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// treeCPU sums pid and its direct children (nginx's master and workers)
// from /proc, in clock ticks of 10 ms.
func treeCPU(pid int) cpuMeter {
	return func() time.Duration {
		total := procCPU(pid)
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			child, err := strconv.Atoi(e.Name())
			if err != nil || child == pid {
				continue
			}
			if ppid, _ := procStat(child); ppid == pid {
				total += procCPU(child)
			}
		}
		return total
	}
}

func procCPU(pid int) time.Duration {
	_, cpu := procStat(pid)
	return cpu
}

// procStat returns the parent pid and utime+stime of pid.
func procStat(pid int) (int, time.Duration) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0
	}
	// The command name may hold spaces; the fields start after its ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return ppid, time.Duration(utime+stime) * 10 * time.Millisecond
}

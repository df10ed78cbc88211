package wrkbench

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// ProcTicks is utime+stime of pid (all its threads) in clock ticks.
func ProcTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		Fatalf("%v", err)
	}
	n, ok := StatTicks(string(data))
	if !ok {
		Fatalf("unexpected /proc/<pid>/stat: %q", data)
	}
	return n
}

// StatTicks is utime+stime from the text of /proc/<pid>/stat; false when
// the text does not have those fields.
func StatTicks(s string) (int64, bool) {
	// The command name may hold spaces and ')'; fields count from after
	// the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 13 {
		return 0, false
	}
	// fields[0] is field 3 (state); utime is field 14, stime 15.
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return ut + st, true
}

// ClockTicks is sysconf(_SC_CLK_TCK); Linux reports CPU time in 1/100 s.
func ClockTicks() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}

// PerReq is CPU time per request in µs, "-" without requests.
func PerReq(ticks, reqs int64, hz int64) string {
	if reqs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f µs", float64(ticks)*1e6/float64(hz)/float64(reqs))
}

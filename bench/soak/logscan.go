package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// logSummary counts the daemon's log lines.
type logSummary struct {
	byMessage map[string]int // "LEVEL msg"
	crashes   []string       // fatal error / panic lines
	filterErr int            // ERROR lines naming the soak filter
	passwords int            // lines holding a user's password
	// stableDowns are the times the daemon marked a backend that never
	// went down (stable-NN) unhealthy.
	stableDowns []stableDown
	err         error
}

// stableDown is one "backend health changed" line of a stable backend.
type stableDown struct {
	at     time.Time
	target string
	reason string // the daemon's classification: timeout, local, ...
	error  string
}

var (
	logField = regexp.MustCompile(`\b(time|target|reason|error|stacktrace)=("(?:[^"\\]|\\.)*"|\S+)`)
	// Parts of a filter error that differ per request or per run.
	scriptPath = regexp.MustCompile(`\S*route\.lua:\d+: `)
	badUser    = regexp.MustCompile(`bad-(\w+)-\d+`)
	logLine    = regexp.MustCompile(`level=(\w+) msg=("(?:[^"\\]|\\.)*"|\S+)`)
	password   = regexp.MustCompile(`\bpw-[0-9]+\b`)
)

// scanLog reads at most 1 GiB of the daemon's log.
func scanLog(path string) logSummary {
	s := logSummary{byMessage: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		s.err = err
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(&limited{f: f, left: 1 << 30})
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if password.MatchString(line) {
			s.passwords++
		}
		if strings.HasPrefix(line, "fatal error") || strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "runtime:") {
			if len(s.crashes) < 5 {
				s.crashes = append(s.crashes, line)
			}
			continue
		}
		m := logLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := m[1] + " " + strings.Trim(m[2], `"`)
		if strings.Contains(line, "script=soak-route") {
			key += ": " + filterFailure(line)
		}
		s.byMessage[key]++
		if strings.Contains(line, "target=stable-") && strings.Contains(line, "to=unhealthy") && len(s.stableDowns) < 100000 {
			s.stableDowns = append(s.stableDowns, parseStableDown(line))
		}
		if m[1] == "ERROR" && strings.Contains(line, "soak-route") {
			s.filterErr++
		}
	}
	s.err = sc.Err()
	return s
}

// filterFailure sums up a "Lua filter failed" line: the error without the
// run's path and user numbers, and whether the run was in the misbehaving
// branch (a timeout elsewhere is a normal user's run that did not finish
// in time, or one that never got a Lua state).
func filterFailure(line string) string {
	var errText, stack string
	for _, m := range logField.FindAllStringSubmatch(line, -1) {
		v := m[2]
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		switch m[1] {
		case "error":
			errText = v
		case "stacktrace":
			stack = v
		}
	}
	errText = badUser.ReplaceAllString(scriptPath.ReplaceAllString(errText, ""), "bad-$1-N")
	switch {
	case stack == "":
		return errText + " (no stack trace)"
	case strings.Contains(stack, "'misbehave'"):
		return errText + " (in the misbehaving branch)"
	default:
		return errText + " (NOT in the misbehaving branch)"
	}
}

func parseStableDown(line string) stableDown {
	var d stableDown
	for _, m := range logField.FindAllStringSubmatch(line, -1) {
		v := m[2]
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		switch m[1] {
		case "time":
			d.at, _ = time.Parse(time.RFC3339Nano, v)
		case "target":
			d.target = v
		case "reason":
			d.reason = v
		case "error":
			d.error = v
		}
	}
	return d
}

// printStableDowns groups the down-markings of stable backends by the
// second they happened in, relative to the start of the load.
func printStableDowns(downs []stableDown, loadStart time.Time) {
	type moment struct {
		at      time.Duration
		targets map[string]bool
		example stableDown
	}
	var moments []*moment
	for _, d := range downs {
		at := d.at.Sub(loadStart).Truncate(time.Second)
		if len(moments) == 0 || moments[len(moments)-1].at != at {
			moments = append(moments, &moment{at: at, targets: map[string]bool{}, example: d})
		}
		moments[len(moments)-1].targets[d.target] = true
	}
	for i, m := range moments {
		if i == 5 {
			fmt.Printf("    ... %d more moments\n", len(moments)-i)
			break
		}
		fmt.Printf("    t=%s: %d stable backends, e.g. %s reason=%s error=%q\n",
			m.at, len(m.targets), m.example.target, m.example.reason, m.example.error)
	}
}

type limited struct {
	f    *os.File
	left int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("log longer than 1 GiB; the rest was not read")
	}
	p = p[:min(int64(len(p)), l.left)]
	n, err := l.f.Read(p)
	l.left -= int64(n)
	return n, err
}

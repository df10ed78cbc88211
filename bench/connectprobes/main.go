// Command connectprobes measures what the health engine costs per connect
// probe at scale, against bare net.Dial+Close doing the same work in the same
// pattern, in the same run.
//
// Each measurement runs in its own child process so its CPU time and peak
// RSS (getrusage) are its own: one child serves N loopback listeners (accept
// and close), one runs the real engine with the real prober for -rounds
// rounds, one dials every listener -rounds times.
//
//	go run ./bench/connectprobes -n 100,1000,10000 -interval 1s -rounds 5
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type settings struct {
	interval time.Duration
	jitter   time.Duration
	rounds   int
	inFlight int
	ports    string // file with one port per line (children)
}

func main() {
	var (
		mode  = flag.String("mode", "driver", "driver | serve | engine | dial (children are started by the driver)")
		sizes = flag.String("n", "100,1000,10000", "comma-separated target counts")
		s     settings
	)
	flag.DurationVar(&s.interval, "interval", time.Second, "probe interval")
	flag.DurationVar(&s.jitter, "jitter", 100*time.Millisecond, "spread of probe starts in a round (backline's default for a 1s interval)")
	flag.IntVar(&s.rounds, "rounds", 5, "rounds to measure (bounded)")
	flag.IntVar(&s.inFlight, "inflight", 4096, "concurrent probes at most")
	flag.StringVar(&s.ports, "ports", "", "port file (children only)")
	flag.Parse()

	if s.rounds < 1 || s.rounds > 1000 {
		fail(fmt.Errorf("-rounds must be 1..1000"))
	}
	var err error
	switch *mode {
	case "driver":
		err = drive(*sizes, s)
	case "serve":
		n, convErr := strconv.Atoi(*sizes)
		if convErr != nil {
			fail(fmt.Errorf("serve: -n must be one number: %w", convErr))
		}
		err = serve(n)
	case "engine":
		err = report(measureEngine(s))
	case "dial":
		err = report(measureDial(s))
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "connectprobes:", err)
	os.Exit(1)
}

func parseSizes(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 50000 {
			return nil, fmt.Errorf("-n: %q is not a count in 1..50000", f)
		}
		out = append(out, n)
	}
	return out, nil
}

package state

import (
	"strings"
	"testing"
)

// Names match unlimitedCommands in any ASCII case, as Redis matches them;
// near misses, non-ASCII look-alikes and over-long names do not.
func TestUnlimitedNameFoldsASCIIOnly(t *testing.T) {
	for name, want := range map[string]bool{
		"COMMAND": true, "command": true, "CoMmAnD": true, "cluster": true, "Sentinel": true,
		"info": true, "hello": true,
		"": false, "GET": false, "COMMANDS": false, "COMMAN": false, "INFO\x00": false,
		"cluſter":                           false, // ſ (long s) is S only in Unicode case mapping
		"ınfo":                              false, // dotless ı
		"COMMAND" + strings.Repeat("x", 20): false,
		"\xff\xfe":                          false,
	} {
		if got := unlimitedName([]byte(name)); got != want {
			t.Errorf("unlimitedName(%q) = %v, want %v", name, got, want)
		}
	}
}

// trackerPipeline is a pipeline of ten commands in mixed case, two of
// them exempt.
var trackerPipeline = []byte(strings.Repeat("*2\r\n$3\r\nget\r\n$1\r\nk\r\n*3\r\n$4\r\nHGet\r\n$1\r\nh\r\n$1\r\nf\r\n", 4) +
	"*1\r\n$7\r\ncommand\r\n*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n")

// followPipeline writes trackerPipeline to t and takes its replies.
func followPipeline(tb testing.TB, t *cmdTracker) {
	t.written(trackerPipeline)
	exempt := 0
	for range 10 {
		if t.replied().exempt {
			exempt++
		}
	}
	if exempt != 2 {
		tb.Fatalf("%d exempt commands, want 2", exempt)
	}
}

// Following commands allocates nothing once the queue has grown.
func TestCmdTrackerAllocatesNothing(t *testing.T) {
	var tr cmdTracker
	followPipeline(t, &tr)
	if n := testing.AllocsPerRun(100, func() { followPipeline(t, &tr) }); n != 0 {
		t.Errorf("%v allocations per pipeline of 10 commands", n)
	}
}

// BenchmarkCmdTracker is the tracker's cost per command written: a
// pipeline of ten in mixed case, two of them exempt.
func BenchmarkCmdTracker(b *testing.B) {
	var tr cmdTracker
	b.SetBytes(int64(len(trackerPipeline)))
	b.ReportAllocs()
	for b.Loop() {
		followPipeline(b, &tr)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/command")
}

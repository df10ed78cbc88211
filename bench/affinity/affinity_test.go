package main

import "testing"

func TestParseCommandStatsAndDiff(t *testing.T) {
	before := parseCommandStats("# Commandstats\r\ncmdstat_getex:calls=10,usec=5,usec_per_call=0.5\r\ncmdstat_info:calls=3,usec=1\r\n")
	after := parseCommandStats("# Commandstats\r\ncmdstat_getex:calls=110,usec=50\r\ncmdstat_set:calls=2,usec=1\r\ncmdstat_info:calls=5,usec=2\r\ncmdstat_client|setinfo:calls=1,usec=0\r\n")
	d, total := diffStats(before, after)
	if d["getex"] != 100 || d["set"] != 2 || d["client|setinfo"] != 1 || total != 103 {
		t.Fatalf("diff %v total %d", d, total)
	}
	if _, ok := d["info"]; ok {
		t.Fatal("our own INFO calls must not count")
	}
	if got := sortedKeys(d); got[0] != "getex" || got[1] != "set" {
		t.Fatalf("order %v", got)
	}
}

func TestDiffStatsLeavesOutScriptInnerCalls(t *testing.T) {
	after := parseCommandStats("cmdstat_evalsha:calls=100,usec=5\r\ncmdstat_get:calls=100,usec=1\r\ncmdstat_pexpire:calls=98,usec=1\r\ncmdstat_set:calls=2,usec=1\r\n")
	d, total := diffStats(map[string]int64{}, after)
	if total != 100 || d["get"] != 100 || d["evalsha"] != 100 {
		t.Fatalf("diff %v total %d, want 100 client commands", d, total)
	}
}

func TestParseWrk(t *testing.T) {
	out := "  1234 requests in 3.00s, 1.00MB read\n  Non-2xx or 3xx responses: 7\nRequests/sec:  411.33\n"
	s, ok := parseWrk([]byte(out))
	if !ok || s.rps != 411.33 || s.requests != 1234 || s.non2xx != 7 {
		t.Fatalf("%+v %v", s, ok)
	}
	if _, ok := parseWrk([]byte("garbage")); ok {
		t.Fatal("no Requests/sec must fail")
	}
}

func TestStatTicksCommandWithSpaces(t *testing.T) {
	stat := "42 (a b) c) S 1 1 1 0 -1 0 0 0 0 0 7 5 0 0 20 0 1 0"
	if got := statTicks(stat); got != 12 {
		t.Fatalf("got %d", got)
	}
}

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

package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// ctl show prints the uptime windows; a daemon's odd values (out of
// range, huge, missing) print as such instead of breaking the line.
func TestCtlShowsUptime(t *testing.T) {
	for answer, want := range map[string]string{
		`{"1h":{"ratio":1,"checked_seconds":3600},"24h":{"ratio":0.99995,"checked_seconds":86400},"7d":{"ratio":0.5,"checked_seconds":7200}}`: "uptime:         1h 100%, 24h 99.99%, 7d 50% (2h checked)\n",
		`{"1h":{"ratio":null,"checked_seconds":0},"24h":{"ratio":null,"checked_seconds":0},"7d":{"ratio":null,"checked_seconds":0}}`:          "uptime:         1h -, 24h -, 7d -\n",
		`{"1h":{"ratio":7,"checked_seconds":1e300},"24h":{"ratio":-1,"checked_seconds":-5},"7d":{"ratio":0.25,"checked_seconds":1e300}}`:      "uptime:         1h ?, 24h -, 7d 25%\n",
	} {
		var b ctlBackend
		if err := json.Unmarshal([]byte(`{"id":"mbox01","host":"10.0.0.11","port":143,"uptime":`+answer+`}`), &b); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		(&ctlClient{stdout: &out}).printBackend(b)
		if !strings.HasSuffix(out.String(), want) {
			t.Errorf("show for %s:\n%s\nwant the last line %q", answer, out.String(), want)
		}
	}
	var out strings.Builder
	(&ctlClient{stdout: &out}).printBackend(ctlBackend{ID: "old-daemon"})
	if strings.Contains(out.String(), "uptime") {
		t.Errorf("a daemon without the field shows uptime:\n%s", out.String())
	}
}

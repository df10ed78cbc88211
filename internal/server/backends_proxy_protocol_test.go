package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// A check that sends the PROXY header shows its version on the page for
// v1 as for v2 (a gateway backend's proxy_protocol: v1 checks with v1);
// the API adds haproxy_v1 only where it is set.
func TestProxyProtocolVersionShown(t *testing.T) {
	for _, c := range []struct {
		v1, v2 bool
		detail string
	}{
		{v1: true, detail: "proxy-v1"},
		{v2: true, detail: "proxy-v2"},
	} {
		pt := &probe.Target{Name: "api", Protocol: "http", Host: "10.0.0.5", Port: 8080, TLSMode: probe.TLSPlain, HAProxyV1: c.v1, HAProxyV2: c.v2}
		b := health.BackendFor(health.GroupMail, pt, true)
		row := buildRow(b, pageAdmin{State: "ready"}, pageNow)
		if !strings.Contains(" "+row.Detail+" ", " "+c.detail+" ") {
			t.Errorf("v1 %v v2 %v: detail %q lacks %q", c.v1, c.v2, row.Detail, c.detail)
		}
		out, err := json.Marshal(viewBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(out), `"haproxy_v1":true`); got != c.v1 {
			t.Errorf("v1 %v: haproxy_v1 in the API: %v (%s)", c.v1, got, out)
		}
		if !c.v1 && strings.Contains(string(out), "haproxy_v1") {
			t.Errorf("haproxy_v1 shown for v2: %s", out)
		}
	}
}

package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/server"
)

// The status page against the real admin API: a health engine (its probes
// answered in-process) behind backline's server with api_auth. A harness
// page clicks "drain" on a backend whose ID contains "//" and ":", then
// "maint" with a reason the API refuses, then reads the page again. The
// admin state must come back from the engine with the browser's API user
// as "who".

// e2eHarnessScript is the harness page's script (see harnessHTML).
const e2eHarnessScript = `function row(d, id) {
  var rows = d.querySelectorAll("tr[data-id]");
  for (var i = 0; i < rows.length; i++) {
    if (rows[i].getAttribute("data-id") === id) { return rows[i]; }
  }
  return null;
}
var drained = "imap://127.0.0.1:1143", other = "pop3://127.0.0.1:1110";
f.addEventListener("load", function () {
  var w = f.contentWindow, d = f.contentDocument;
  step++;
  if (step === 1) {
    w.prompt = function () { return "disk swap"; };
    d.getElementById("ttl").value = "30m";
    row(d, drained).querySelector("button[data-act=drain]").click();
  } else if (step === 2) {
    var r = row(d, drained);
    note("first row: " + d.querySelector("tr[data-id]").getAttribute("data-id"));
    note("state: " + r.querySelector(".st").textContent);
    note("admin: " + r.querySelector(".adm").textContent);
    w.prompt = function () { return "bad\u0007why"; };
    row(d, other).querySelector("button[data-act=maint]").click();
    var poll = setInterval(function () {
      var m = d.getElementById("msg");
      if (m.className === "bad") { clearInterval(poll); note("error: " + m.textContent); }
    }, 50);
  }
});
`

type okChecker struct{}

func (okChecker) Check(_ context.Context, _ *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	return probe.Result{Phase: phase, OK: true, Duration: time.Millisecond}
}

func TestStatusPageAdminAPIInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	const user, pass = "alice", "e2e-browser-pass"
	targets := []*probe.Target{
		{Protocol: "imap", Host: "127.0.0.1", Port: 1143, TLSMode: probe.TLSPlain, ConnectTimeout: time.Second},
		{Protocol: "pop3", Host: "127.0.0.1", Port: 1110, TLSMode: probe.TLSPlain, ConnectTimeout: time.Second},
	}
	for _, tg := range targets {
		tg.Name = tg.Protocol + "://" + tg.Address()
	}
	eng, err := health.New([]health.Group{{Name: health.GroupMail, ConnectInterval: time.Hour,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true, Targets: targets}}, okChecker{}, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	engDone := make(chan struct{})
	go func() { defer close(engDone); eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-engDone })

	srv := server.New(server.Options{Snapshot: eng, APIAuth: config.APIAuth{Username: user, Password: pass}})
	logText := browseHarness(t, chromium, "admin-api", user, pass, harnessHTML(900, e2eHarnessScript), srv.Handler())
	for _, want := range []string{
		"first row: imap://127.0.0.1:1143", "state: drain",
		"admin: drain by alice: disk swapuntil ", " UTC (in 2",
		"error: maint pop3://127.0.0.1:1110 failed: 400 ",
	} {
		if !strings.Contains(logText, want) {
			t.Errorf("harness log lacks %q", want)
		}
	}
	if a, ok := eng.GetAdmin("imap://127.0.0.1:1143"); !ok || a.State != health.AdminDrain || a.Who != user ||
		a.Why != "disk swap" || a.Until.IsZero() {
		t.Errorf("engine admin state %+v", a)
	}
	if a, _ := eng.GetAdmin("pop3://127.0.0.1:1110"); a.State != health.AdminReady {
		t.Errorf("refused change applied: %+v", a)
	}
}

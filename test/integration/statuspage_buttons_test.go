package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/server"
	"github.com/backline/backline/internal/server/statuspagefake"
)

// The buttons in a real browser. A harness page (served by the test, same
// origin) loads the status page in an iframe, answers its prompt, clicks
// "drain" on one row, "maint" on another and "ready" on a third; the
// test's stand-in for the admin API refuses the maint call with a JSON
// error, which the page must show, and accepts the others. The server runs with api_auth, so this also
// proves the browser re-sends the Basic credentials with the API call.

// buttonsHarnessScript is the harness page's script (see harnessHTML).
const buttonsHarnessScript = `function click(d, id, act) {
  var rows = d.querySelectorAll("tr[data-id]");
  for (var i = 0; i < rows.length; i++) {
    if (rows[i].getAttribute("data-id") === id) {
      rows[i].querySelector("button[data-act=" + act + "]").click();
      note("clicked " + act + " " + id);
      return;
    }
  }
  note("no row " + id);
}
f.addEventListener("load", function () {
  var w = f.contentWindow, d = f.contentDocument;
  step++;
  if (step === 1) {
    w.prompt = function () { return "disk swap"; };
    d.getElementById("ttl").value = "30m";
    click(d, "imap03", "drain");
  } else if (step === 2) {
    note("reloaded after drain");
    w.prompt = function () { return "too long"; };
    click(d, "pop01", "maint");
    var poll = setInterval(function () {
      var m = d.getElementById("msg");
      if (m.className === "bad") {
        clearInterval(poll);
        note("error shown: " + m.textContent);
        click(d, "gateway:web@http://10.0.3.1:8080", "ready");
      }
    }, 50);
  } else if (step === 3) {
    note("reloaded after ready");
  }
});
`

type adminCall struct {
	path, user string
	body       map[string]any
}

func TestStatusPageButtonsInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	const user, pass = "ops", "browser-test-pass"
	srv := server.New(server.Options{Snapshot: fixedSnapshot{statuspagefake.Broken(time.Now())},
		APIAuth: config.APIAuth{Username: user, Password: pass}})
	var mu sync.Mutex
	var calls []adminCall
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		switch {
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/v1/backends/"):
			var body map[string]any
			_ = json.NewDecoder(r.Body).Decode(&body)
			mu.Lock()
			calls = append(calls, adminCall{path: r.URL.EscapedPath(), user: u, body: body})
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if !ok || p != pass {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"error":"unauthorized"}`)
				return
			}
			if strings.Contains(r.URL.Path, "pop01") {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"error":"why: <b>refused</b> by the test"}`)
				return
			}
			_, _ = io.WriteString(w, `{"state":"drain"}`)
		default:
			srv.Handler().ServeHTTP(w, r)
		}
	})
	logText := browseHarness(t, chromium, "buttons", user, pass, harnessHTML(1400, buttonsHarnessScript), h)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 3 {
		t.Fatalf("admin API calls %+v, want 3 (log: %s)", calls, logText)
	}
	drain, maint, ready := calls[0], calls[1], calls[2]
	if drain.path != "/api/v1/backends/imap03/admin" || drain.user != user ||
		drain.body["state"] != "drain" || drain.body["why"] != "disk swap" || drain.body["ttl"] != "30m" {
		t.Errorf("drain call %+v", drain)
	}
	if maint.path != "/api/v1/backends/pop01/admin" || maint.body["state"] != "maint" || maint.body["why"] != "too long" {
		t.Errorf("maint call %+v", maint)
	}
	// An ID with "/" and ":" travels as one escaped path segment; "ready"
	// asks nothing and sends no TTL.
	if ready.path != "/api/v1/backends/gateway%3Aweb%40http%3A%2F%2F10.0.3.1%3A8080/admin" ||
		len(ready.body) != 1 || ready.body["state"] != "ready" {
		t.Errorf("ready call %+v", ready)
	}
	for _, want := range []string{"reloaded after drain", "reloaded after ready", "error shown: maint pop01 failed: 400 why: <b>refused</b> by the test"} {
		if !strings.Contains(logText, want) {
			t.Errorf("harness log lacks %q: %s", want, logText)
		}
	}
}

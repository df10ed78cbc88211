package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// browseHarness serves page at /harness (same origin as the status page,
// behind Basic auth as user:pass) and everything else through rest, loads
// it in headless chromium with a virtual time budget for its script, writes
// the screenshot name, and returns the text of the page's #log element.
func browseHarness(t *testing.T, chromium, name, user, pass, page string, rest http.Handler) string {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/harness" {
			rest.ServeHTTP(w, r)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="backline", charset="UTF-8"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, page)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	root := browse(t, chromium, "http://"+user+":"+pass+"@"+ln.Addr().String()+"/harness", name, "--virtual-time-budget=4000")
	logText := ""
	for n := range root.Descendants() {
		if domAttr(n, "id") == "log" {
			logText = domText(n)
		}
	}
	t.Logf("harness log: %s", logText)
	return logText
}

// harnessHTML is a harness page: a #log (pre) for the script's notes and
// the status page in iframe #f, iframeHeight pixels high (the screenshot
// shows it); script runs with f, log, step (0) and note(text) defined.
func harnessHTML(iframeHeight int, script string) string {
	return fmt.Sprintf(`<!DOCTYPE html>
<html><body>
<pre id="log"></pre>
<iframe id="f" src="/" width="1260" height="%d"></iframe>
<script>
var f = document.getElementById("f"), log = document.getElementById("log"), step = 0;
function note(s) { log.textContent += s + "\n"; }
%s</script>
</body></html>`, iframeHeight, script)
}

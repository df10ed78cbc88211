package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/demo"
)

// waitFor polls cond until it holds. The bound only keeps a broken build
// from hanging the suite; it is not a performance threshold.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// waitForNoError polls check until it returns nil, and fails with its last
// error. The demo's checks have 1-2 s timeouts and failure_threshold 1: on
// a starved machine (CI runs every package under -race at once) a whole
// round can time out, and the next one brings the fakes back. What a test
// wants of a healthy demo is then true a round or two later, not at once.
func waitForNoError(t *testing.T, what string, check func() error) {
	t.Helper()
	var err error
	for range 600 {
		if err = check(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s: %v", what, err)
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s: %v\n%s", url, err, body)
	}
	return resp.StatusCode
}

// TestDemo runs `backline demo` in-process on a random port and waits for
// the first probe round: the healthy fakes are healthy, the hung one is not.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, []string{"demo", "--address", "127.0.0.1:0"}, &stdout, &stderr) }()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("demo exit %d\n%s", code, stderr.String())
		}
		http.DefaultClient.CloseIdleConnections()
	}()

	statusURL := regexp.MustCompile(`JSON status +(http://127\.0\.0\.1:\d+/api/v1/backends)\n`)
	var url string
	waitFor(t, "the demo's URLs on stdout", func() bool {
		m := statusURL.FindStringSubmatch(stdout.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	type backend struct {
		Name    string `json:"name"`
		Port    int    `json:"port"`
		Healthy bool   `json:"healthy"`
		Deep    struct {
			LastCheck  string `json:"last_check"`
			LastReason string `json:"last_reason"`
		} `json:"deep"`
	}
	var body struct {
		Round    uint64    `json:"round"`
		Backends []backend `json:"backends"`
	}
	want := map[string]bool{
		"demo-imaps": true, "demo-pop3": true, "demo-submission": true, "demo-https": true, "demo-imap-hung": false,
	}
	// Polled: a starved round can time out the healthy fakes too (see
	// waitForNoError); the hung one never answers in any round.
	waitForNoError(t, "a probe round with the healthy fakes up and the hung one down", func() error {
		getJSON(t, url, &body)
		if body.Round == 0 {
			return fmt.Errorf("no round yet")
		}
		var wrong []string
		for _, b := range body.Backends {
			if b.Healthy != want[b.Name] || b.Deep.LastCheck == "" {
				wrong = append(wrong, fmt.Sprintf("%s: healthy=%v deep=%+v", b.Name, b.Healthy, b.Deep))
			}
		}
		if len(wrong) > 0 {
			return fmt.Errorf("round %d: %s", body.Round, strings.Join(wrong, "; "))
		}
		return nil
	})
	var order []string
	for _, b := range body.Backends {
		order = append(order, b.Name)
	}
	if got := strings.Join(order, ","); got != "demo-imaps,demo-pop3,demo-submission,demo-https,demo-imap-hung" {
		t.Errorf("backends in order %s", got)
	}
	var hung backend
	if code := getJSON(t, url+"?name=demo-imap-hung", &hung); code != 200 || hung.Deep.LastReason != "timeout" {
		t.Errorf("demo-imap-hung: %d %+v", code, hung)
	}
	for _, path := range []string{"/", "/metrics"} {
		resp, err := http.Get(strings.TrimSuffix(url, "/api/v1/backends") + path)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(string(page), "demo-password") {
			t.Errorf("%s: status %d or shows the password", path, resp.StatusCode)
		}
	}
	// A later round may have timed out again since: poll the metric too.
	waitForNoError(t, "demo-imaps up in /metrics", func() error {
		resp, err := http.Get(strings.TrimSuffix(url, "/api/v1/backends") + "/metrics")
		if err != nil {
			return err
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), `backline_backend_up{group="backend_health_checks",name="demo-imaps",protocol="imap"} 1`) {
			return fmt.Errorf("metrics lack demo-imaps up:\n%s", page)
		}
		return nil
	})

	// README's promise: the nginx endpoint logs the demo user in, on a port
	// nginx can speak to (the IMAPS backend's plain proxy_port).
	imaps := 0
	for _, b := range body.Backends {
		if b.Name == "demo-imaps" {
			imaps = b.Port
		}
	}
	// Polled for the same reason as the rounds above: with the IMAP fake
	// timed out in the latest round the answer is a temporary failure.
	waitForNoError(t, "an nginx login of the demo user", func() error {
		req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(url, "/backends")+"/auth/nginx", nil)
		for k, v := range map[string]string{"Auth-User": "demo", "Auth-Pass": "demo-password", "Auth-Protocol": "imap", "Auth-Method": "plain", "Client-IP": "127.0.0.1"} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.Header.Get("Auth-Status") != "OK" || resp.Header.Get("Auth-Port") == "" {
			return fmt.Errorf("nginx answer for the demo user: %v", resp.Header)
		}
		if resp.Header.Get("Auth-Port") == fmt.Sprint(imaps) {
			t.Errorf("nginx answer for the demo user: %v (IMAPS port %d must not be handed out)", resp.Header, imaps)
		}
		return nil
	})
}

// --print-config writes the configuration and the files it names into
// --dir: check accepts it after the demo has ended.
func TestDemoPrintConfig(t *testing.T) {
	dir := t.TempDir() + "/demo"
	code, stdout, stderr := backline(t, "demo", "--address", "127.0.0.1:0", "--print-config", "--dir", dir)
	if code != exitOK || !strings.Contains(stdout, "backend_health_checks:") || !strings.Contains(stdout, "name: demo-imap-hung") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "backline check --config "+dir+"/backline.yml") {
		t.Errorf("no hint on stderr: %q", stderr)
	}
	code, out, errOut := backline(t, "check", "--config", dir+"/backline.yml")
	if code != exitOK {
		t.Errorf("check of the printed config: exit %d\n%s\n%s", code, out, errOut)
	}
}

// startDemo runs `backline demo` with args until the test ends and returns
// its base URL and stdout.
func startDemo(t *testing.T, args ...string) (base string, stdout, stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, append([]string{"demo"}, args...), stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("demo exit %d\n%s", code, stderr.String())
		}
		http.DefaultClient.CloseIdleConnections()
	})
	re := regexp.MustCompile(`status page +(http://127\.0\.0\.1:\d+)/\n`)
	waitFor(t, "the demo's URLs on stdout", func() bool {
		m := re.FindStringSubmatch(stdout.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	})
	return base, stdout, stderr
}

type demoBackend struct {
	Name    string `json:"name"`
	Healthy bool   `json:"healthy"`
}

func demoHealth(t *testing.T, base string) (round uint64, healthy map[string]bool) {
	var body struct {
		Round    uint64        `json:"round"`
		Backends []demoBackend `json:"backends"`
	}
	getJSON(t, base+"/api/v1/backends", &body)
	healthy = map[string]bool{}
	for _, b := range body.Backends {
		healthy[b.Name] = b.Healthy
	}
	return body.Round, healthy
}

// The /demo page breaks and repairs each fake; the health checks follow.
func TestDemoBreakAndRepair(t *testing.T) {
	base, _, _ := startDemo(t, "--address", "127.0.0.1:0")
	page := func() string {
		resp, err := http.Get(base + "/demo")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("/demo: %d %v", resp.StatusCode, resp.Header)
		}
		return string(b)
	}
	if p := page(); !strings.Contains(p, `action="/demo/backends/demo-pop3/break"`) || !strings.Contains(p, `action="/demo/backends/demo-imap-hung/repair"`) {
		t.Fatalf("/demo lacks the buttons:\n%s", p)
	}
	post := func(path string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, nil)
		req.Header.Set("Origin", base) // what a browser sends from /demo
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	waitFor(t, "the first round", func() bool { r, _ := demoHealth(t, base); return r > 0 })
	post("/demo/backends/demo-pop3/break")
	post("/demo/backends/demo-https/break")
	post("/demo/backends/demo-imap-hung/repair")
	waitFor(t, "pop3 and https down, the hung one up", func() bool {
		_, h := demoHealth(t, base)
		return !h["demo-pop3"] && !h["demo-https"] && h["demo-imap-hung"] && h["demo-imaps"]
	})
	if p := page(); !strings.Contains(p, "demo-pop3</td><td>127.0.0.1:") || strings.Count(p, "<td>broken</td>") != 2 {
		t.Errorf("/demo after the changes:\n%s", p)
	}
	post("/demo/backends/demo-pop3/repair")
	post("/demo/backends/demo-https/repair")
	waitFor(t, "pop3 and https back", func() bool {
		_, h := demoHealth(t, base)
		return h["demo-pop3"] && h["demo-https"]
	})

	// Unknown names and actions are 404, and a cross-site form is refused.
	for _, path := range []string{"/demo/backends/nope/break", "/demo/backends/demo-pop3/explode"} {
		req, _ := http.NewRequest(http.MethodPost, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/demo/backends/demo-imaps/break", nil)
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site break: %d, want 403", resp.StatusCode)
	}
}

// Every curl example the intro prints works: the demo users log in and get
// a backend.
func TestDemoAuthExamplesWork(t *testing.T) {
	base, stdout, _ := startDemo(t, "--address", "127.0.0.1:0")
	waitFor(t, "the first round", func() bool { r, _ := demoHealth(t, base); return r > 0 })
	for _, ex := range demoAuthExamples(base) {
		if !strings.Contains(stdout.String(), ex.curl()) {
			t.Errorf("intro lacks %s", ex.curl())
		}
		// Polled: a starved round can time out the fake an example needs,
		// and the answer is then a temporary failure (see waitForNoError).
		waitForNoError(t, ex.curl(), func() error {
			req, _ := http.NewRequest(ex.method, ex.url, strings.NewReader(ex.body))
			for k, v := range ex.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ok := resp.StatusCode == 200
			if strings.HasSuffix(ex.url, "/nginx") {
				ok = ok && resp.Header.Get("Auth-Status") == "OK" && resp.Header.Get("Auth-Server") != ""
			}
			if strings.HasSuffix(ex.url, "/json") {
				ok = ok && strings.Contains(string(body), `"backend"`) || ok && strings.Contains(string(body), "127.0.0.1")
			}
			if !ok {
				return fmt.Errorf("%d %v\n%s", resp.StatusCode, resp.Header, body)
			}
			return nil
		})
	}
}

// With the default port taken, the demo runs on a free one and says so.
func TestDemoDefaultPortBusy(t *testing.T) {
	if ln, err := net.Listen("tcp", demo.DefaultAddress); err == nil {
		t.Cleanup(func() { ln.Close() })
	}
	base, _, stderr := startDemo(t)
	if strings.HasSuffix(base, ":9080") || !strings.Contains(stderr.String(), "is in use; serving on a free port instead") {
		t.Errorf("base %s, stderr %q", base, stderr.String())
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
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
	waitFor(t, "the first probe round", func() bool {
		getJSON(t, url, &body)
		return body.Round > 0
	})
	want := map[string]bool{
		"demo-imaps": true, "demo-pop3": true, "demo-submission": true, "demo-https": true, "demo-imap-hung": false,
	}
	var order []string
	for _, b := range body.Backends {
		order = append(order, b.Name)
		if b.Healthy != want[b.Name] || b.Deep.LastCheck == "" {
			t.Errorf("%s: healthy=%v deep=%+v", b.Name, b.Healthy, b.Deep)
		}
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
		if path == "/metrics" && !strings.Contains(string(page), `backline_backend_up{group="backend_health_checks",name="demo-imaps",protocol="imap"} 1`) {
			t.Errorf("metrics lack demo-imaps up:\n%s", page)
		}
	}

	// README's promise: the nginx endpoint logs the demo user in, on a port
	// nginx can speak to (the IMAPS backend's plain proxy_port).
	req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(url, "/backends")+"/auth/nginx", nil)
	for k, v := range map[string]string{"Auth-User": "demo", "Auth-Pass": "demo-password", "Auth-Protocol": "imap", "Auth-Method": "plain", "Client-IP": "127.0.0.1"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	imaps := 0
	for _, b := range body.Backends {
		if b.Name == "demo-imaps" {
			imaps = b.Port
		}
	}
	if resp.Header.Get("Auth-Status") != "OK" || resp.Header.Get("Auth-Port") == "" || resp.Header.Get("Auth-Port") == fmt.Sprint(imaps) {
		t.Errorf("nginx answer for the demo user: %v (IMAPS port %d must not be handed out)", resp.Header, imaps)
	}
}

func TestDemoPrintConfig(t *testing.T) {
	code, stdout, stderr := backline(t, "demo", "--address", "127.0.0.1:0", "--print-config")
	if code != exitOK || !strings.Contains(stdout, "backend_health_checks:") || !strings.Contains(stdout, "name: demo-imap-hung") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

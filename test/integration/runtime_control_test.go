package integration

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/backline/backline/internal/testfixture"
)

// TestRuntimeControlThroughNginx runs the real daemon (`backline serve`)
// behind a real nginx mail proxy in front of Dovecot A and B, and checks
// issue 10's runtime control end to end: a drain (ctl) or maint (admin API)
// moves the next login to the other Dovecot at once on the nginx, header and
// JSON paths; reloads by SIGHUP and POST /api/v1/reload under login load
// fail no login and refuse no connection; a backend down before a reload is
// still down after it.
func TestRuntimeControlThroughNginx(t *testing.T) {
	f := testfixture.Load(t)
	for _, p := range []string{nginxBinary, nginxMailModule} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("nginx with the mail module is required (scripts/install-deps.sh): %v", err)
		}
	}
	start := daemonVariant{policy: "user_hash", silentDeepTimeout: "1500ms"}
	d := startDaemon(t, f, start)
	basic := base64.StdEncoding.EncodeToString([]byte(apiUser + ":" + d.apiPW))
	imapAddr, _ := startNginxWith(t, t.TempDir(), d.addr, fmt.Sprintf(`auth_http_header Authorization "Basic %s";`, basic))

	user, password := f.AliceUser, f.AlicePassword
	portOfInstance := map[string]string{
		"DOVECOT_A": strconv.Itoa(f.Port("DOVECOT_A_IMAP")), "DOVECOT_B": strconv.Itoa(f.Port("DOVECOT_B_IMAP")),
	}
	instanceOfPort := map[string]string{portOfInstance["DOVECOT_A"]: "DOVECOT_A", portOfInstance["DOVECOT_B"]: "DOVECOT_B"}
	idOf := map[string]string{"DOVECOT_A": "a-imap", "DOVECOT_B": "b-imap"}
	login := func() { imapLogin(t, imapAddr, user, password, "OK") }

	t.Run("drain and maint move the next login to the other Dovecot", func(t *testing.T) {
		d.t = t
		home := instanceOfPort[d.headerPort()]
		if home == "" {
			t.Fatalf("header endpoint names neither Dovecot (A %s, B %s)", portOfInstance["DOVECOT_A"], portOfInstance["DOVECOT_B"])
		}
		other := map[string]string{"DOVECOT_A": "DOVECOT_B", "DOVECOT_B": "DOVECOT_A"}[home]
		if got := d.jsonPort(); got != portOfInstance[home] {
			t.Errorf("json endpoint sends alice to port %s, header endpoint to %s", got, portOfInstance[home])
		}
		expectLogin(t, f, home, "imap-login", user, login)

		out := d.ctl("drain", idOf[home], "--for", "5m", "--why", "integration drain")
		if !strings.Contains(out, idOf[home]+": drain") {
			t.Errorf("ctl drain printed %q", out)
		}
		// At once, with no wait for a health round, on every path.
		if got := d.headerPort(); got != portOfInstance[other] {
			t.Errorf("header endpoint after drain: port %s, want %s", got, portOfInstance[other])
		}
		if got := d.jsonPort(); got != portOfInstance[other] {
			t.Errorf("json endpoint after drain: port %s, want %s", got, portOfInstance[other])
		}
		expectLogin(t, f, other, "imap-login", user, login)
		if b := d.backends()[idOf[home]]; b.Eligible || b.Reason != "drain" || !b.Healthy {
			t.Errorf("drained backend in /api/v1/backends: %+v", b)
		}

		d.ctl("ready", idOf[home], "--reset")
		expectLogin(t, f, home, "imap-login", user, login)

		path := "/api/v1/backends/" + idOf[home] + "/admin"
		if a := d.admin(http.MethodPut, path, `{"state":"maint","why":"integration maint"}`); a.State != "maint" || a.Source != "api" {
			t.Fatalf("PUT admin answered %+v", a)
		}
		if got := d.headerPort(); got != portOfInstance[other] {
			t.Errorf("header endpoint in maint: port %s, want %s", got, portOfInstance[other])
		}
		expectLogin(t, f, other, "imap-login", user, login)
		if a := d.admin(http.MethodGet, path, ""); a.State != "maint" || a.Who != apiUser || a.Why != "integration maint" {
			t.Errorf("GET admin answered %+v", a)
		}
		if a := d.admin(http.MethodDelete, path, ""); a.State != "ready" || a.Source != "config" {
			t.Fatalf("DELETE admin answered %+v", a)
		}
		expectLogin(t, f, home, "imap-login", user, login)
	})

	t.Run("reloads under nginx login load fail no login", func(t *testing.T) {
		d.t = t
		variants := []daemonVariant{
			{policy: "weighted_round_robin", silentDeepTimeout: "1400ms"},
			{policy: "user_hash", toB: true, silentDeepTimeout: "1500ms"},
			{policy: "round_robin", silentDeepTimeout: "1300ms"},
			start,
		}
		before := d.reloadCount("success")
		logsBefore := map[string]int{"DOVECOT_A": len(f.ReadLog("DOVECOT_A")), "DOVECOT_B": len(f.ReadLog("DOVECOT_B"))}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var logins, headerOK atomic.Int64
		var errMu sync.Mutex
		var errs []string
		fail := func(err error) {
			errMu.Lock()
			defer errMu.Unlock()
			errs = append(errs, err.Error())
		}
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := tryIMAPLogin(imapAddr, user, password); err != nil {
						fail(fmt.Errorf("login through nginx: %w", err))
					} else {
						logins.Add(1)
					}
				}
			}()
		}
		// The header endpoint on a new connection each time: a listener that
		// closed or reopened during a reload would refuse one.
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := headerOnce(client, d, user, password); err != nil {
					fail(fmt.Errorf("header endpoint: %w", err))
				} else {
					headerOK.Add(1)
				}
				time.Sleep(2 * time.Millisecond) // leave CPU to nginx, Dovecot and the reloads
			}
		}()

		reloads := 0
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); reloads++ {
			d.writeConfig(variants[reloads%len(variants)])
			if reloads%2 == 0 {
				d.reload()
			} else {
				want := d.reloadCount("success") + 1
				if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				d.waitReloadCount(want)
			}
			time.Sleep(100 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		t.Logf("%d reloads, %d logins through nginx, %d header answers", reloads, logins.Load(), headerOK.Load())
		// Dovecot logs through its log process, after the client has its
		// answer: a load login to A logged late would land in the window
		// of the expectLogin on B below and read as a login on both.
		waitForLoginLines(t, f, logsBefore, "imap-login: Info: Login: user=<"+user+">", int(logins.Load()))
		if len(errs) > 0 {
			t.Errorf("%d failures during reloads, first: %v", len(errs), errs[:min(len(errs), 5)])
		}
		if logins.Load() < 5 || headerOK.Load() < 5 {
			t.Errorf("too little load to mean anything: %d logins, %d header answers", logins.Load(), headerOK.Load())
		}
		if got := d.reloadCount("success"); got < before+reloads {
			t.Errorf("reloads_total{success} went from %d to %d after %d reloads", before, got, reloads)
		}
		if got := d.reloadCount("failure"); got != 0 {
			t.Errorf("reloads_total{failure} = %d", got)
		}

		// The last reload is in force: the filter sends alice to B.
		d.writeConfig(daemonVariant{policy: "user_hash", toB: true, silentDeepTimeout: "1500ms"})
		d.reload()
		if got := d.headerPort(); got != portOfInstance["DOVECOT_B"] {
			t.Errorf("after the reload to the to-b filter: port %s, want B's %s", got, portOfInstance["DOVECOT_B"])
		}
		expectLogin(t, f, "DOVECOT_B", "imap-login", user, login)
	})

	t.Run("an invalid reload keeps the running configuration", func(t *testing.T) {
		d.t = t
		// Running: the to-b filter (the previous subtest's last reload).
		good := d.render(daemonVariant{policy: "user_hash", toB: true, silentDeepTimeout: "1500ms"})
		writeFile(t, d.cfgFile, strings.Replace(good, "default_policy: user_hash", "default_policy: no_such_policy", 1))
		code, body := d.api(http.MethodPost, "/api/v1/reload", "")
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "auth.nginx.default_policy") {
			t.Errorf("invalid reload: %d %s", code, body)
		}
		failuresBefore := d.reloadCount("failure")
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); d.reloadCount("failure") <= failuresBefore; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("SIGHUP with an invalid file: no failed reload counted within 10s")
			}
		}
		if !strings.Contains(d.metrics(), "backline_config_last_reload_successful 0") {
			t.Error("last_reload_successful is not 0 after a failed reload")
		}
		if got := d.headerPort(); got != portOfInstance["DOVECOT_B"] {
			t.Errorf("after a failed reload: port %s, want B's %s (the to-b filter still runs)", got, portOfInstance["DOVECOT_B"])
		}
		expectLogin(t, f, "DOVECOT_B", "imap-login", user, login)
		writeFile(t, d.cfgFile, good)
		d.reload()
		if !strings.Contains(d.metrics(), "backline_config_last_reload_successful 1") {
			t.Error("last_reload_successful is not 1 after a good reload")
		}
	})

	t.Run("a backend down before a reload is down after it", func(t *testing.T) {
		d.t = t
		// silent-pop3 fails its deep check (a timeout), closed-pop3 its
		// connect (refused); both have been down since the first round.
		var silentFails, closedFails int
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			bs := d.backends()
			s, c := bs["silent-pop3"], bs["closed-pop3"]
			if !s.Healthy && s.Deep.ConsecutiveFailures >= 1 && !c.Healthy && c.Connect.ConsecutiveFailures >= 2 {
				silentFails, closedFails = s.Deep.ConsecutiveFailures, c.Connect.ConsecutiveFailures
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the broken backends never turned down: %+v %+v", s, c)
			}
		}
		t.Logf("before the reload: silent-pop3 %d deep failures, closed-pop3 %d connect failures", silentFails, closedFails)
		// The silent target's check settings change (not its address), and
		// every group starts a round at once; the silent check needs 1.2 s
		// to fail, so a state reset would show in that window: as counters
		// back at 0 or 1 (and as healthy with initial_state healthy, the
		// fail-open default; this file uses unhealthy so that the load test
		// above sees a reset of the Dovecots as failed logins).
		d.writeConfig(daemonVariant{policy: "weighted_round_robin", silentDeepTimeout: "1200ms"})
		d.reload()
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			bs := d.backends()
			for id, fails := range map[string]int{"silent-pop3": silentFails, "closed-pop3": closedFails} {
				b := bs[id]
				if b.Healthy || b.Eligible || b.Reason != "unhealthy" {
					t.Fatalf("%s after the reload: %+v", id, b)
				}
				if got := b.Deep.ConsecutiveFailures + b.Connect.ConsecutiveFailures; got < fails {
					t.Fatalf("%s: consecutive failures went from %d to %d: the reload reset its counters", id, fails, got)
				}
			}
			if !bs["a-imap"].Eligible || !bs["b-imap"].Eligible {
				t.Fatalf("Dovecot lost eligibility in the reload: %+v %+v", bs["a-imap"], bs["b-imap"])
			}
		}
		out := d.ctl("list")
		for _, id := range []string{"silent-pop3", "closed-pop3"} {
			if !strings.Contains(out, id) || !regexp.MustCompile(`(?m)^`+id+` .* no \(unhealthy\)`).MatchString(out) {
				t.Errorf("ctl list does not show %s down:\n%s", id, out)
			}
		}
	})
}

// headerOnce asks the header endpoint once and wants a 200 with a backend.
func headerOnce(client *http.Client, d *daemon, user, password string) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+d.addr+"/api/v1/auth/header", nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(apiUser, d.apiPW)
	req.Header.Set("Auth-Method", "plain")
	req.Header.Set("Auth-User", user)
	req.Header.Set("Auth-Pass", password)
	req.Header.Set("Auth-Protocol", "imap")
	req.Header.Set("Client-IP", "127.0.0.1")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Nauthilus-Proxy-Port") == "" {
		return fmt.Errorf("status %d, Auth-Status %q, Proxy-Port %q", resp.StatusCode,
			resp.Header.Get("Auth-Status"), resp.Header.Get("X-Nauthilus-Proxy-Port"))
	}
	return nil
}

// metrics returns the text of /metrics.
func (d *daemon) metrics() string {
	d.t.Helper()
	code, body := d.api(http.MethodGet, "/metrics", "")
	if code != http.StatusOK {
		d.t.Fatalf("/metrics: %d", code)
	}
	return body
}

// reloadCount reads backline_config_reloads_total{result} from /metrics.
func (d *daemon) reloadCount(result string) int {
	d.t.Helper()
	body := d.metrics()
	prefix := fmt.Sprintf(`backline_config_reloads_total{result=%q} `, result)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				d.t.Fatalf("%q: %v", line, err)
			}
			return int(n)
		}
	}
	return 0 // no reload of that result yet
}

// waitReloadCount waits (bounded) until the success counter reaches want:
// a SIGHUP has no answer to wait for.
func (d *daemon) waitReloadCount(want int) {
	d.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for d.reloadCount("success") < want {
		if time.Now().After(deadline) {
			d.t.Fatalf("SIGHUP: no successful reload within 10s (want %d)", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForLoginLines waits (bounded by logWaitLimit) until the Dovecots of
// offsets have logged needle at least n times in all after their offsets.
func waitForLoginLines(t *testing.T, f *testfixture.Fixture, offsets map[string]int, needle string, n int) {
	t.Helper()
	deadline := time.Now().Add(logWaitLimit)
	for {
		got := 0
		for inst, off := range offsets {
			got += strings.Count(f.ReadLog(inst)[off:], needle)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Dovecots logged %q %d times within %s, want %d", needle, got, logWaitLimit, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

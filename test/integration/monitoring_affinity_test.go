package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testfixture"
)

// TestMonitoringFilterAffinityTwoInstances runs a monitoring filter in the
// style of Nauthilus's documentation (testdata/monitoring_affinity.lua:
// user -> backend affinity in Redis hashes through nauthilus_redis, the
// Dovecot session header through nauthilus_http_request,
// select_backend_server) unchanged under two `backline serve` processes
// that share a real Redis. The first is where the fixture's Dovecot proxy
// sends its logins.
func TestMonitoringFilterAffinityTwoInstances(t *testing.T) {
	f := testfixture.Load(t)
	r := startPrivateRedis(t)
	script, err := filepath.Abs(filepath.Join("testdata", "monitoring_affinity.lua"))
	if err != nil {
		t.Fatal(err)
	}
	extra := fmt.Sprintf(`storage:
  redis:
    primary:
      address: "%s"
lua:
  filters:
    - {name: monitoring, script_path: "%s"}
`, r.addr(), script)
	var users strings.Builder
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&users, "user%d:{PLAIN}pw%d\n", i, i)
	}
	bin := buildBackline(t)
	one := serveProxyBackline(t, f, bin, "127.0.0.1:"+f.Get("DOVECOT_PROXY_BACKLINE_PORT"), users.String(), extra)
	two := serveProxyBackline(t, f, bin, fmt.Sprintf("127.0.0.1:%d", freePort(t)), users.String(), extra)
	aIMAP, bIMAP := strconv.Itoa(f.Port("DOVECOT_A_IMAP")), strconv.Itoa(f.Port("DOVECOT_B_IMAP"))
	instanceOf := map[string]string{aIMAP: "DOVECOT_A", bIMAP: "DOVECOT_B"}

	t.Run("a Dovecot proxy login stores the backend and the Dovecot session", func(t *testing.T) {
		before := len(f.ReadLog("DOVECOT_PROXY"))
		// The filter chooses at random: find out where it went from Redis.
		imapLogin(t, f.Addr("DOVECOT_PROXY_IMAP"), f.AliceUser, f.AlicePassword, "OK")
		stored := redisCommand(t, r.addr(), "HGET", "backline_test_monitoring:affinity:"+f.AliceUser, "imap")
		host, port, _ := strings.Cut(stored, ":")
		if host != "127.0.0.1" || instanceOf[port] == "" {
			t.Fatalf("affinity hash holds %q, want 127.0.0.1 and Dovecot A's or B's IMAP port", stored)
		}
		// The proxy went there, and logged the session it sent backline.
		var session string
		re := regexp.MustCompile(`proxy\(` + regexp.QuoteMeta(f.AliceUser) + `,127\.0\.0\.1:` + port + `\): Started proxying.*session=<([^>]+)>`)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if m := re.FindStringSubmatch(f.ReadLog("DOVECOT_PROXY")[before:]); m != nil {
				session = m[1]
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the proxy did not log proxying to %s:\n%s", stored, f.ReadLog("DOVECOT_PROXY")[before:])
			}
		}
		if got := redisCommand(t, r.addr(), "HGET", "backline_test_monitoring:sessions:"+f.AliceUser, session); got != stored {
			t.Errorf("sessions hash field %q = %q, want %q", session, got, stored)
		}
		// The other instance gives alice the same backend, and every
		// further login through the proxy lands there.
		if got := two.chosenPort(f.AliceUser, f.AlicePassword, "imap"); got != port {
			t.Errorf("second instance: port %s, want %s", got, port)
		}
		for range 3 {
			expectLogin(t, f, instanceOf[port], "imap-login", f.AliceUser, func() {
				imapLogin(t, f.Addr("DOVECOT_PROXY_IMAP"), f.AliceUser, f.AlicePassword, "OK")
			})
		}
	})

	t.Run("the second instance reads what the first stored", func(t *testing.T) {
		logBefore := len(two.logs.String())
		for i := 1; i <= 8; i++ {
			user, pw := fmt.Sprintf("user%d", i), fmt.Sprintf("pw%d", i)
			first := one.chosenPort(user, pw, "imap")
			for range 2 {
				if got := two.chosenPort(user, pw, "imap"); got != first {
					t.Errorf("%s: first instance chose %s, second %s", user, first, got)
				}
			}
			if got := redisCommand(t, r.addr(), "HGET", "backline_test_monitoring:affinity:"+user, "imap"); got != "127.0.0.1:"+first {
				t.Errorf("%s: affinity hash holds %q", user, got)
			}
		}
		// Only the first instance chose (and logged the new affinity). The
		// request line is written after the answer and reaches the test
		// through a pipe: wait for all 16 of the second instance's lines
		// before looking for what must not be in them.
		seen := waitForOutputCount(t, two.logs, logBefore, "auth request", 16)
		if n := strings.Count(seen, "backline_test_monitoring_new="); n != 0 {
			t.Errorf("the second instance chose a new backend %d times", n)
		}
	})

	t.Run("an affinity stored by someone else is followed by both", func(t *testing.T) {
		// As a Nauthilus sharing the Redis would have stored it.
		for user, port := range map[string]string{"user7": bIMAP, "user8": aIMAP} {
			redisCommand(t, r.addr(), "HSET", "backline_test_monitoring:affinity:"+user, "imap", "127.0.0.1:"+port)
			for _, s := range []*servedBackline{one, two} {
				if got := s.chosenPort(user, "pw"+user[4:], "imap"); got != port {
					t.Errorf("%s on %s: port %s, want the stored %s", user, s.addr, got, port)
				}
			}
		}
	})

	t.Run("a stored backend that is down is replaced once, for both", func(t *testing.T) {
		stored := one.chosenPort("user1", "pw1", "imap")
		id := map[string]string{aIMAP: "a-imap", bIMAP: "b-imap"}[stored]
		for _, s := range []*servedBackline{one, two} {
			if code, body := s.api(http.MethodPut, "/api/v1/backends/"+id+"/admin", `{"health":"down","why":"affinity test"}`); code != http.StatusOK {
				t.Fatalf("PUT admin: %d %s", code, body)
			}
		}
		moved := two.chosenPort("user1", "pw1", "imap")
		if moved == stored {
			t.Fatalf("still %s with %s forced down", moved, id)
		}
		if got := one.chosenPort("user1", "pw1", "imap"); got != moved {
			t.Errorf("first instance after the move: %s, want %s", got, moved)
		}
		for _, s := range []*servedBackline{one, two} {
			if code, body := s.api(http.MethodDelete, "/api/v1/backends/"+id+"/admin", ""); code != http.StatusOK {
				t.Fatalf("DELETE admin: %d %s", code, body)
			}
		}
		// Back up, the user stays where they moved.
		for _, s := range []*servedBackline{one, two} {
			if got := s.chosenPort("user1", "pw1", "imap"); got != moved {
				t.Errorf("%s after recovery: %s, want %s", s.addr, got, moved)
			}
		}
	})
}

// redisCommand sends one command (RESP by hand: no client needed) and
// returns a bulk or simple string reply, an integer as text, "" for nil.
func redisCommand(t *testing.T, addr string, args ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(c)
	head, err := rd.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	head = strings.TrimRight(head, "\r\n")
	switch head[0] {
	case '+', ':':
		return head[1:]
	case '-':
		t.Fatalf("redis %v: %s", args, head)
	case '$':
		n, err := strconv.Atoi(head[1:])
		if err != nil || n < 0 {
			return ""
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	t.Fatalf("redis %v: unexpected reply %q", args, head)
	return ""
}

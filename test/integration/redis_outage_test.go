package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAuthCacheRedisKilledAndRestarted: a real redis-server is killed
// under a running `backline serve` with the shared auth cache, then
// started again (empty, on the same port). Logins go on throughout; during
// the outage they hit the instance's local memory after the first; the
// outage and the return are logged once each; afterwards the cache is
// shared through Redis again.
func TestAuthCacheRedisKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("short suite: starts redis-server and a daemon")
	}
	redis := startPrivateRedis(t)
	backend := startFakeIMAP(t)
	const user = "outage@example.org"
	dir := outageInstanceDir(t, user)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	in := startInstance(t, buildBackline(t), "fb", dir, addr, threeConfig(dir, addr, redis.addr(), []*fakeIMAP{backend}))

	login := func(step string) string {
		t.Helper()
		return nginxLoginOK(t, in, user, step).Get("X-Nauthilus-Memory-Cache")
	}
	waitMetric := func(name string, want float64) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for in.metric(t, name) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s stayed %v, want %v", name, in.metric(t, name), want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	if got := login("first login"); got != "Miss" {
		t.Errorf("first login: %s", got)
	}
	if got := login("second login"); got != "Hit" {
		t.Errorf("second login: %s, want a hit through Redis", got)
	}

	redis.kill()
	login("first login after the kill")
	for i := range 20 {
		if got := login("login during the outage"); got != "Hit" {
			t.Fatalf("login %d during the outage: %s, want a hit from local memory", i, got)
		}
	}
	waitMetric("backline_state_redis_breaker_open", 1)
	if n := in.metric(t, "backline_state_redis_breaker_rejected_total"); n < 1 {
		t.Errorf("breaker_rejected_total = %v: nothing failed fast", n)
	}

	redis.start(t) // same port, empty
	waitMetric("backline_state_redis_breaker_open", 0)
	if got := login("first login after the restart"); got != "Miss" {
		t.Errorf("after the restart: %s, want a miss (Redis came back empty; local entries dropped)", got)
	}
	if got := login("second login after the restart"); got != "Hit" {
		t.Errorf("after the restart: %s, want a hit", got)
	}
	if v := redisKeysWithPrefix(t, redis, "three:{authcache}:e:"); v == 0 {
		t.Error("no cache entry in Redis after the return: not shared again")
	}
	// The breaker sets the gauge, then logs: wait for the return line (it
	// comes after the outage line, so both counts are final).
	logs := waitForOutput(t, in.logs, "Redis answers again: shared state")
	if n := strings.Count(logs, "Redis unreachable: shared state falls back"); n != 1 {
		t.Errorf("%d outage lines, want 1", n)
	}
	if n := strings.Count(logs, "Redis answers again: shared state"); n != 1 {
		t.Errorf("%d return lines, want 1", n)
	}
}

// redisKeysWithPrefix counts keys matching prefix* (KEYS in RESP by hand;
// the reply's first line is "*<count>").
func redisKeysWithPrefix(t *testing.T, r *privateRedis, prefix string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	pattern := prefix + "*"
	fmt.Fprintf(c, "*2\r\n$4\r\nKEYS\r\n$%d\r\n%s\r\n", len(pattern), pattern)
	head, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "*")))
	if err != nil {
		t.Fatalf("KEYS: %q", head)
	}
	return n
}

// outageInstanceDir holds the files threeConfig refers to, with user as
// the only account.
func outageInstanceDir(t *testing.T, user string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "api.pw"), threeAPIPassword+"\n")
	writeFile(t, filepath.Join(dir, "probe.pw"), "probe-password\n")
	writeFile(t, filepath.Join(dir, "cache.key"), strings.Repeat("k3y-", 12)+"\n")
	writeFile(t, filepath.Join(dir, "passwd"), fmt.Sprintf("%s:{PLAIN}%s\n", user, threeUserPassword))
	return dir
}

// nginxLoginOK logs user in through in's nginx endpoint and fails the test
// unless the answer is Auth-Status OK; it returns the answer's headers.
func nginxLoginOK(t *testing.T, in *instance, user, step string) http.Header {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+in.addr+"/api/v1/auth/nginx", nil)
	req.SetBasicAuth(apiUser, threeAPIPassword)
	for k, v := range map[string]string{"Auth-Method": "plain", "Auth-User": user, "Auth-Pass": threeUserPassword,
		"Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "127.0.0.1"} {
		req.Header.Set(k, v)
	}
	resp, err := threeHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Auth-Status") != "OK" {
		t.Fatalf("%s: Auth-Status %q", step, resp.Header.Get("Auth-Status"))
	}
	return resp.Header
}

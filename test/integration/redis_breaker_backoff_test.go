package integration

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// deadRedis listens where Redis was and hangs up on every connection at
// once, counting them: each connection is one attempt of the daemon to
// reach Redis (a refused dial could not be counted).
type deadRedis struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func listenDeadRedis(t *testing.T, addr string) *deadRedis {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the killed redis-server's port may take a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	d := &deadRedis{ln: ln}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(d.close)
	return d
}

func (d *deadRedis) close() { d.ln.Close(); d.wg.Wait() }

// TestRedisBreakerBackoffAgainstADeadRedis: with circuit_breaker
// {open_time: 100ms, max_open_time: 1s}, a `backline serve` under a
// steady stream of logins tries a dead Redis after 0.1, 0.2, 0.3, ... 1 s,
// then every second: about 12 tries in 8 s, each two to four connections
// (go-redis retries once; a pipeline dials more). A fixed 100 ms period
// would make about 45 tries (each takes some 75 ms), 90 to 180
// connections. The outage line names the settings, every login succeeds,
// and a Redis that comes back is used again within max_open_time.
func TestRedisBreakerBackoffAgainstADeadRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("short suite: starts redis-server and a daemon")
	}
	redis := startPrivateRedis(t)
	backend := startFakeIMAP(t)
	const user = "backoff@example.org"
	dir := outageInstanceDir(t, user)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	const prefixLine = "    prefix: \"three:\"\n"
	cfg := threeConfig(dir, addr, redis.addr(), []*fakeIMAP{backend})
	if !strings.Contains(cfg, prefixLine) {
		t.Fatal("threeConfig changed: no prefix line to put the breaker after")
	}
	cfg = strings.Replace(cfg, prefixLine, prefixLine+"    circuit_breaker: {open_time: 100ms, max_open_time: 1s}\n", 1)
	in := startInstance(t, buildBackline(t), "bo", dir, addr, cfg)

	login := func(step string) {
		t.Helper()
		nginxLoginOK(t, in, user, step)
	}

	login("before the outage")
	redis.kill()
	dead := listenDeadRedis(t, redis.addr())
	logins := 0
	for start := time.Now(); time.Since(start) < 8*time.Second; logins++ {
		login("during the outage")
		time.Sleep(50 * time.Millisecond)
	}
	tries := dead.accepted.Load()
	t.Logf("%d logins in 8 s against a dead Redis: %d connections to it", logins, tries)
	if tries < 3 || tries > 70 {
		t.Errorf("%d connections to the dead Redis in 8 s: want about 24 to 48 (open_time 100ms growing to 1s); a fixed 100 ms period makes 90 or more", tries)
	}
	if in.metric(t, "backline_state_redis_breaker_open") != 1 {
		t.Error("breaker not open during the outage")
	}
	logs := in.logs.String()
	if !strings.Contains(logs, "open_time=100ms max_open_time=1s") {
		t.Errorf("the outage line does not name the settings:\n%s", logs)
	}

	dead.close()
	redis.start(t)
	deadline := time.Now().Add(15 * time.Second)
	for in.metric(t, "backline_state_redis_breaker_open") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("breaker still open 15 s after Redis came back")
		}
		login("after the return")
		time.Sleep(100 * time.Millisecond)
	}
	// The breaker sets the gauge, then logs: wait for the line.
	if n := strings.Count(waitForOutput(t, in.logs, "Redis answers again: shared state"), "Redis answers again: shared state"); n != 1 {
		t.Errorf("%d return lines, want 1", n)
	}
}

package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestThreeInstancesOneRedis runs three `backline serve` processes on one
// private redis-server in front of ten fake IMAP backends (issue 11): one
// deep probe per backend per interval in total, a killed lease owner
// replaced within one lease TTL, sticky logins through any instance, a
// drain seen by all within a second, and a Redis outage that fails no login.
// It needs no shared fixture, only /usr/bin/redis-server.
func TestThreeInstancesOneRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("short suite: starts redis-server and three daemons")
	}
	const interval = time.Second
	redis := startPrivateRedis(t)
	backends := make([]*fakeIMAP, 10)
	for i := range backends {
		backends[i] = startFakeIMAP(t)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "api.pw"), threeAPIPassword+"\n")
	writeFile(t, filepath.Join(dir, "probe.pw"), "probe-password\n")
	writeFile(t, filepath.Join(dir, "cache.key"), strings.Repeat("k3y-", 12)+"\n")
	var users []string
	var passwd strings.Builder
	for i := range 6 {
		u := fmt.Sprintf("user%d@example.org", i)
		users = append(users, u)
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s\n", u, threeUserPassword)
	}
	writeFile(t, filepath.Join(dir, "passwd"), passwd.String())

	portOf := map[string]string{}
	for i, b := range backends {
		portOf[fmt.Sprintf("m%02d", i)] = strconv.Itoa(b.port)
	}
	bin := buildBackline(t)
	var ins []*instance
	startOne := func(i int) {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		ins = append(ins, startInstance(t, bin, fmt.Sprintf("b%d", i), dir, addr, threeConfig(dir, addr, redis.addr(), backends)))
	}
	// deepCounts counts each backend's deep probes over n intervals.
	deepCounts := func(n int) []int {
		from := time.Now()
		time.Sleep(time.Duration(n) * interval)
		to := time.Now()
		counts := make([]int, len(backends))
		for i, b := range backends {
			counts[i] = b.between(from, to)
		}
		return counts
	}
	checkOnePerInterval := func(t *testing.T, n int) {
		t.Helper()
		counts := deepCounts(n)
		total := 0
		for i, c := range counts {
			total += c
			if c < n-1 || c > n+1 {
				t.Errorf("m%02d got %d deep probes in %d intervals, want %d±1", i, c, n, n)
			}
		}
		t.Logf("deep probes over %d intervals: %v (total %d, %.1f per interval for %d backends)",
			n, counts, total, float64(total)/float64(n), len(backends))
	}

	// The baseline: one instance alone probes each backend once an interval.
	startOne(0)
	time.Sleep(interval)
	t.Run("one instance alone: one deep probe per backend per interval", func(t *testing.T) {
		checkOnePerInterval(t, 3)
	})
	startOne(1)
	startOne(2)
	// Let every instance run a few deep rounds with the leases settled.
	time.Sleep(2 * interval)

	t.Run("one deep probe per backend per interval across three instances", func(t *testing.T) {
		for _, in := range ins {
			if v := in.metric(t, "backline_probe_leases_shared"); v != 1 {
				t.Errorf("%s: backline_probe_leases_shared %v, want 1", in.name, v)
			}
		}
		checkOnePerInterval(t, 5)
	})

	t.Run("a user's logins through any instance land on the same backend", func(t *testing.T) {
		for _, u := range users {
			var ports []string
			for round := range 2 {
				for _, in := range ins {
					status, port, err := in.nginxLogin(u, threeUserPassword)
					if err != nil || status != "OK" || port == "" {
						t.Fatalf("%s round %d for %s: status %q port %q err %v", in.name, round, u, status, port, err)
					}
					ports = append(ports, port)
				}
			}
			for _, p := range ports[1:] {
				if p != ports[0] {
					t.Errorf("%s landed on ports %v, want one backend", u, ports)
					break
				}
			}
			// The entry is in Redis: another instance's API shows it.
			if got := affinityOf(t, ins[2], u); portOf[got] != ports[0] {
				t.Errorf("affinity of %s on b2: %q (port %s), logins went to port %s", u, got, portOf[got], ports[0])
			}
		}
		// Not merely the same hash everywhere: a move through one instance
		// is where the next login through the others goes.
		u := users[0]
		target := "m09"
		if portOf[affinityOf(t, ins[0], u)] == portOf[target] {
			target = "m08"
		}
		if code, body := ins[0].call(t, http.MethodPut, "/api/v1/affinity/"+u+"?protocol=imap", `{"backend":"`+target+`"}`); code != http.StatusOK {
			t.Fatalf("PUT affinity on b0: %d %s", code, body)
		}
		for _, in := range ins {
			if _, port, err := in.nginxLogin(u, threeUserPassword); err != nil || port != portOf[target] {
				t.Errorf("%s after the move to %s: port %s (want %s), %v", in.name, target, port, portOf[target], err)
			}
		}
	})

	t.Run("a drain on one instance is seen by the other two within one second", func(t *testing.T) {
		const id = "m03"
		path := "/api/v1/backends/" + id + "/admin"
		start := time.Now()
		if code, body := ins[0].call(t, http.MethodPut, path, `{"state":"drain","why":"three-instance test"}`); code != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", path, code, body)
		}
		for _, in := range ins[1:] {
			for {
				b := backendsOf(t, in)[id]
				if !b.Eligible && b.Reason == "drain" {
					t.Logf("%s saw the drain after %v", in.name, time.Since(start).Round(time.Millisecond))
					break
				}
				// 1 s is the goal; the rest is slack for polling on a loaded machine.
				if time.Since(start) > 1500*time.Millisecond {
					t.Fatalf("%s: %s not drained %v after the PUT on b0: %+v", in.name, id, time.Since(start), b)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		// Sticky: a user stored on the drained backend stays there through
		// every instance (its sessions are not split); maint moves the user.
		u := users[1]
		if code, body := ins[0].call(t, http.MethodPut, "/api/v1/affinity/"+u+"?protocol=imap", `{"backend":"`+id+`"}`); code != http.StatusOK {
			t.Fatalf("PUT affinity on b0: %d %s", code, body)
		}
		for _, in := range ins {
			if _, port, err := in.nginxLogin(u, threeUserPassword); err != nil || port != portOf[id] {
				t.Errorf("%s: %s stored on drained %s went to port %s (want %s), %v", in.name, u, id, port, portOf[id], err)
			}
		}
		if code, body := ins[2].call(t, http.MethodPut, path, `{"state":"maint","why":"three-instance test"}`); code != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", path, code, body)
		}
		for start := time.Now(); backendsOf(t, ins[0])[id].Reason != "maint"; time.Sleep(50 * time.Millisecond) {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("b0 did not see the maint of %s", id)
			}
		}
		if _, port, err := ins[0].nginxLogin(u, threeUserPassword); err != nil || port == portOf[id] || port == "" {
			t.Errorf("%s stored on %s in maint went to port %s, %v", u, id, port, err)
		}
		if got := affinityOf(t, ins[1], u); got == id {
			t.Errorf("affinity of %s still %s after the move off maint", u, got)
		}
		if code, body := ins[1].call(t, http.MethodDelete, path, ""); code != http.StatusOK {
			t.Fatalf("DELETE %s on b1: %d %s", path, code, body)
		}
	})

	t.Run("a killed lease owner is replaced within one lease TTL", func(t *testing.T) {
		owners := map[string]int{} // pid -> leases held
		for i := range backends {
			v := redis.get(t, fmt.Sprintf("three:{lease:m%02d}:l", i))
			// <token>:<host>/<pid>/<random>
			parts := strings.Split(v, "/")
			if len(parts) != 3 {
				t.Fatalf("lease of m%02d: %q", i, v)
			}
			owners[parts[1]]++
		}
		t.Logf("lease holders (pid: leases): %v", owners)
		var victim *instance
		for _, in := range ins {
			if n := owners[strconv.Itoa(in.cmd.Process.Pid)]; victim == nil || n > owners[strconv.Itoa(victim.cmd.Process.Pid)] {
				victim = in
			}
		}
		victim.kill9(t)
		killed := time.Now()
		t.Logf("killed %s (pid %d, %d leases)", victim.name, victim.cmd.Process.Pid, owners[strconv.Itoa(victim.cmd.Process.Pid)])
		ins = without(ins, victim)

		limit := 3*interval + interval + interval // lease TTL + one deep round + slack
		time.Sleep(limit)
		worst := time.Duration(0)
		for i, b := range backends {
			at := b.firstAfter(killed)
			if at.IsZero() {
				t.Errorf("m%02d: no deep probe within %v of the kill", i, limit)
				continue
			}
			worst = max(worst, at.Sub(killed))
		}
		t.Logf("longest gap after the kill: %v (lease TTL %v)", worst.Round(time.Millisecond), 3*interval)
		checkOnePerInterval(t, 3)
	})

	t.Run("Redis frozen: no failed login, local probing, recovery", func(t *testing.T) {
		load := startLoginLoad(ins, users, threeUserPassword)
		if err := redis.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		frozen := time.Now()
		waitShared(t, ins, 0, 5*time.Second)
		t.Logf("local mode on every instance %v after the freeze", time.Since(frozen).Round(time.Millisecond))
		localFrom := time.Now()
		var localCounts []int
		time.Sleep(time.Until(frozen.Add(10 * time.Second))) // the 10 s outage
		localTo := time.Now()
		for i, b := range backends {
			// Each instance probes every backend itself now.
			n := b.between(localFrom, localTo)
			localCounts = append(localCounts, n)
			if n == 0 {
				t.Errorf("m%02d: no deep probe in %v of local mode", i, localTo.Sub(localFrom).Round(time.Millisecond))
			}
		}
		// A frozen Redis costs each deep round the lease store's 2 s cap
		// before it probes locally, so the local cadence is below one a second.
		t.Logf("deep probes per backend in %v of local mode (%d instances): %v", localTo.Sub(localFrom).Round(time.Millisecond), len(ins), localCounts)
		if err := redis.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		t.Logf("Redis frozen for %v", time.Since(frozen).Round(time.Millisecond))
		thawed := time.Now()
		waitShared(t, ins, 1, 8*time.Second)
		t.Logf("shared again on every instance %v after the thaw", time.Since(thawed).Round(time.Millisecond))
		load.end(t)
		for _, in := range ins {
			l := in.logs.String()
			for _, want := range []string{"Redis unreachable", "probe leases: store unreachable"} {
				if !strings.Contains(l, want) {
					t.Errorf("%s did not log %q", in.name, want)
				}
			}
		}
		// Back to one prober per backend: checked after the next outage.
	})

	t.Run("Redis killed and restarted empty: no failed login, local probing, recovery", func(t *testing.T) {
		load := startLoginLoad(ins, users, threeUserPassword)
		redis.kill()
		killed := time.Now()
		waitShared(t, ins, 0, 5*time.Second)
		t.Logf("local mode on every instance %v after the kill", time.Since(killed).Round(time.Millisecond))
		// A refused connection fails at once: each instance probes every
		// backend every interval itself.
		counts := deepCounts(3)
		t.Logf("deep probes per backend in 3 intervals with Redis down (%d instances): %v", len(ins), counts)
		for i, n := range counts {
			if n < len(ins)*2 {
				t.Errorf("m%02d: %d deep probes in 3 intervals from %d instances probing locally", i, n, len(ins))
			}
		}
		redis.start(t)
		restarted := time.Now()
		waitShared(t, ins, 1, 8*time.Second)
		t.Logf("shared again on every instance %v after the restart", time.Since(restarted).Round(time.Millisecond))
		load.end(t)
		time.Sleep(interval)
		checkOnePerInterval(t, 3)
	})
}

func backendsOf(t *testing.T, in *instance) map[string]backendState {
	t.Helper()
	code, body := in.call(t, http.MethodGet, "/api/v1/backends", "")
	if code != http.StatusOK {
		t.Fatalf("%s GET /api/v1/backends: %d %s", in.name, code, body)
	}
	var v struct {
		Backends []backendState `json:"backends"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	m := map[string]backendState{}
	for _, b := range v.Backends {
		m[b.ID] = b
	}
	return m
}

func without(ins []*instance, gone *instance) []*instance {
	var out []*instance
	for _, in := range ins {
		if in != gone {
			out = append(out, in)
		}
	}
	return out
}

// affinityOf is the backend the instance's API shows for user's IMAP logins.
func affinityOf(t *testing.T, in *instance, user string) string {
	t.Helper()
	code, body := in.call(t, http.MethodGet, "/api/v1/affinity/"+user+"?protocol=imap", "")
	var v struct {
		Entries []struct {
			Backend string `json:"backend"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(body), &v); code != http.StatusOK || err != nil || len(v.Entries) != 1 {
		t.Fatalf("%s affinity of %s: %d %v %s", in.name, user, code, err, body)
	}
	return v.Entries[0].Backend
}

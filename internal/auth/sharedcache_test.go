package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

var sharedTestKey = []byte(strings.Repeat("0123456789abcdef", 4))

// roundTrips counts a client's trips to Redis: one per command sent
// alone, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

// sharedEnv is one backline instance whose auth cache is on the Redis at
// addr; its own client, registry and round-trip counter.
func sharedEnv(t testing.TB, addr string, mutate func(*config.Config)) (*testEnv, *roundTrips, *prometheus.Registry) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	trips := &roundTrips{}
	client.AddHook(trips)
	t.Cleanup(func() { client.Close() })
	reg := prometheus.NewRegistry()
	env := newEnv(t, func(c *config.Config, o *Options) {
		c.Auth.Cache.HMACKey = sharedTestKey
		o.SharedCache = state.NewRedisAuthCacheStore(client, "backline:")
		o.Registerer = reg
		if mutate != nil {
			mutate(c)
		}
	})
	return env, trips, reg
}

func cacheHeader(e *testEnv, user, pass string) (status, cache string) {
	w := e.do(nginxRequest(user, pass, "imap", "1"))
	return w.Header().Get("Auth-Status"), w.Header().Get("X-Nauthilus-Memory-Cache")
}

func sharedErrors(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "backline_auth_cache_shared_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestSharedCacheAcrossInstances(t *testing.T) {
	m := miniredis.RunT(t)
	a, tripsA, _ := sharedEnv(t, m.Addr(), nil)
	b, tripsB, _ := sharedEnv(t, m.Addr(), nil)

	if st, c := cacheHeader(a, testUser, testPassword); st != "OK" || c != "Miss" {
		t.Fatalf("a, first login: %s %s", st, c)
	}
	cacheHeader(b, "bob", "wrong-password") // b's connection is set up (HELLO...)
	before := tripsB.n.Load()
	if st, c := cacheHeader(b, testUser, testPassword); st != "OK" || c != "Hit" {
		t.Fatalf("b after a cached the login: %s %s", st, c)
	}
	if n := tripsB.n.Load() - before; n != 1 {
		t.Errorf("a cached login took %d Redis round trips, want 1", n)
	}
	// The answer from the cache is the database's: account and attributes.
	w := b.do(nginxRequest(testUser, testPassword, "imap", "1"))
	if w.Header().Get("Auth-User") != testUser {
		t.Errorf("cached answer: %v", w.Header())
	}
	// A wrong password is never a hit, on either instance, and not cached.
	for _, e := range []*testEnv{a, b} {
		if st, c := cacheHeader(e, testUser, "wrong-password"); st == "OK" || c == "Hit" {
			t.Errorf("wrong password: %s %s", st, c)
		}
	}
	// Another protocol, another key.
	if w := a.do(nginxRequest(testUser, testPassword, "pop3", "1")); w.Header().Get("X-Nauthilus-Memory-Cache") != "Miss" {
		t.Error("pop3 login hit imap's entry")
	}
	if len(m.Keys()) != 2 {
		t.Errorf("Redis keys %v, want the imap and pop3 entries", m.Keys())
	}
	_ = tripsA
}

// TestSharedCacheHoldsNoPassword scans every key and value in Redis for
// the passwords and their common encodings.
func TestSharedCacheHoldsNoPassword(t *testing.T) {
	m := miniredis.RunT(t)
	a, _, _ := sharedEnv(t, m.Addr(), nil)
	for _, l := range [][2]string{{testUser, testPassword}, {"bob", bobPassword}, {testUser, "wrong-password"}} {
		cacheHeader(a, l[0], l[1])
	}
	a.h.cache.clear() // writes the epoch key too
	cacheHeader(a, "bob", bobPassword)
	if len(m.Keys()) < 2 {
		t.Fatalf("nothing cached: %v", m.Keys())
	}
	for _, pw := range []string{testPassword, bobPassword, "wrong-password"} {
		sum := sha256.Sum256([]byte(pw))
		forms := []string{pw, strings.ToUpper(pw), hex.EncodeToString([]byte(pw)),
			base64.StdEncoding.EncodeToString([]byte(pw)), base64.RawStdEncoding.EncodeToString([]byte(pw)),
			base64.URLEncoding.EncodeToString([]byte(pw)), url.QueryEscape(pw), hex.EncodeToString(sum[:]),
			base64.StdEncoding.EncodeToString(sum[:])}
		if j, _ := json.Marshal(pw); true {
			forms = append(forms, string(j))
		}
		for _, k := range m.Keys() {
			v, _ := m.Get(k)
			for _, f := range forms {
				if strings.Contains(k, f) || strings.Contains(v, f) {
					t.Errorf("Redis %q (value %q) holds password %q as %q", k, v, pw, f)
				}
			}
		}
	}
}

// An answer whose attributes carry the password (Dovecot's pass extra
// field) is not shared at all.
func TestSharedCacheSkipsSecretAttributes(t *testing.T) {
	m := miniredis.RunT(t)
	a, _, reg := sharedEnv(t, m.Addr(), func(c *config.Config) {
		c.Auth.Passdb[0].Path = writePasswd(t, "carol:{PLAIN}carol-pw-1::::::pass=carol-pw-1", "dave:{PLAIN}dave-pw-22::::::note=xdave-pw-22x")
	})
	for _, u := range [][2]string{{"carol", "carol-pw-1"}, {"dave", "dave-pw-22"}} {
		for range 2 {
			if st, c := cacheHeader(a, u[0], u[1]); st != "OK" || c != "Miss" {
				t.Errorf("%s: %s %s", u[0], st, c)
			}
		}
	}
	if len(m.Keys()) != 0 {
		t.Errorf("answers with secrets were shared: %v", m.Keys())
	}
	if n := sharedErrors(t, reg, sharedErrSecret); n != 4 {
		t.Errorf("secret_attribute = %v, want 4", n)
	}
}

// TestSharedCacheRedisDown: logins go on against the passwd-file, with
// one log line for the outage, counted.
func TestSharedCacheRedisDown(t *testing.T) {
	m := miniredis.RunT(t)
	a, _, reg := sharedEnv(t, m.Addr(), nil)
	cacheHeader(a, testUser, testPassword)
	m.Close()
	for range 5 {
		if st, c := cacheHeader(a, testUser, testPassword); st != "OK" || c != "Miss" {
			t.Fatalf("with Redis down: %s %s", st, c)
		}
		if st, _ := cacheHeader(a, testUser, "wrong-password"); st == "OK" {
			t.Fatal("wrong password accepted with Redis down")
		}
	}
	if n := strings.Count(a.logs.String(), "shared auth cache unavailable"); n != 1 {
		t.Errorf("%d outage log lines, want 1:\n%s", n, a.logs)
	}
	if sharedErrors(t, reg, sharedErrUnavailable) < 1 {
		t.Error("outage not counted")
	}
	// A Redis that does not answer at all (accepts, never replies).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b, _, _ := sharedEnv(t, l.Addr().String(), nil)
	if st, _ := cacheHeader(b, testUser, testPassword); st != "OK" {
		t.Errorf("with a silent Redis: %s", st)
	}
}

// TestSharedCacheTamperedValues: a Redis writer cannot make one user's
// entry answer for another login, nor edit an answer.
func TestSharedCacheTamperedValues(t *testing.T) {
	m := miniredis.RunT(t)
	a, _, reg := sharedEnv(t, m.Addr(), nil)
	cacheHeader(a, testUser, testPassword)
	cacheHeader(a, "bob", bobPassword)
	keys := m.Keys()
	if len(keys) != 2 {
		t.Fatalf("keys %v", keys)
	}
	v0, _ := m.Get(keys[0])
	v1, _ := m.Get(keys[1])
	m.Set(keys[0], v1) // swap the answers
	m.Set(keys[1], v0)
	for _, u := range [][2]string{{testUser, testPassword}, {"bob", bobPassword}} {
		w := a.do(nginxRequest(u[0], u[1], "imap", "1"))
		if w.Header().Get("X-Nauthilus-Memory-Cache") != "Miss" || w.Header().Get("Auth-User") != u[0] {
			t.Errorf("%s after the swap: %v", u[0], w.Header())
		}
	}
	if n := sharedErrors(t, reg, sharedErrForged); n != 2 {
		t.Errorf("bad_mac = %v, want 2", n)
	}
	// An edited account with the old MAC.
	v, _ := m.Get(keys[0])
	m.Set(keys[0], strings.Replace(v, `account\":\"`, `account\":\"mallory`, 1))
	for _, u := range [][2]string{{testUser, testPassword}, {"bob", bobPassword}} {
		if w := a.do(nginxRequest(u[0], u[1], "imap", "1")); w.Header().Get("Auth-User") != u[0] {
			t.Errorf("edited entry answered %v", w.Header())
		}
	}
	// Garbage in the store's own envelope is a counted miss too.
	m.Set(keys[1], "not json")
	cacheHeader(a, testUser, testPassword)
	cacheHeader(a, "bob", bobPassword)
	if sharedErrors(t, reg, state.CorruptNotJSON) < 1 {
		t.Error("not_json not counted")
	}
}

// A passwd-file change on one instance voids every instance's entries.
func TestSharedCacheClearReachesOthers(t *testing.T) {
	m := miniredis.RunT(t)
	a, _, _ := sharedEnv(t, m.Addr(), nil)
	b, _, _ := sharedEnv(t, m.Addr(), nil)
	cacheHeader(a, testUser, testPassword)
	a.h.cache.clear()
	if _, c := cacheHeader(b, testUser, testPassword); c != "Miss" {
		t.Errorf("b after a's clear: %s", c)
	}
	if _, c := cacheHeader(a, testUser, testPassword); c != "Hit" {
		t.Errorf("b's new entry on a: %s", c)
	}
	// A clear that cannot reach Redis blocks hits until it can.
	m.Close()
	a.h.cache.clear()
	a.h.cache.shared.skipUntil.Store(0)
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	a.h.cache.shared.skipUntil.Store(0)
	if _, c := cacheHeader(a, testUser, testPassword); c != "Miss" {
		t.Errorf("after a clear Redis missed: %s", c)
	}
	if a.h.cache.shared.pendingClear.Load() {
		t.Error("pending clear not done once Redis was back")
	}
}

func TestSharedCacheNeedsKey(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	_, err := New(Options{Config: &config.Config{}, SharedCache: state.NewRedisAuthCacheStore(c, "p:")})
	if err == nil || !strings.Contains(err.Error(), "hmac_key_file") {
		t.Errorf("New without a key = %v", err)
	}
}

// BenchmarkSharedCacheLogin is a cached nginx login with the cache in this
// process's memory and on a miniredis (one round trip per login over
// loopback); compare the two ns/op for the shared cache's cost.
func BenchmarkSharedCacheLogin(b *testing.B) {
	run := func(b *testing.B, env *testEnv) {
		env.do(nginxRequest(testUser, testPassword, "imap", "1"))
		r := nginxRequest(testUser, testPassword, "imap", "1")
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			r.Header.Set("Auth-Pass", testPassword) // the handler wipes it
			env.mux.ServeHTTP(w, r)
			if w.Header().Get("X-Nauthilus-Memory-Cache") != "Hit" {
				b.Fatal(w.Header())
			}
		}
	}
	b.Run("memory", func(b *testing.B) { run(b, newEnv(b, nil)) })
	b.Run("miniredis", func(b *testing.B) {
		m := miniredis.RunT(b)
		env, _, _ := sharedEnv(b, m.Addr(), nil)
		run(b, env)
	})
}

func TestHoldsSecret(t *testing.T) {
	e := func(attrs Attributes) cacheEntry {
		return cacheEntry{account: "alice", accountField: "account", attributes: attrs}
	}
	for _, c := range []struct {
		name string
		e    cacheEntry
		pw   string
		want bool
	}{
		{"plain", e(Attributes{"mailhost": {"10.0.0.5"}}), "Secret-pw", false},
		{"pass field", e(Attributes{"pass": {"x"}}), "Secret-pw", true},
		{"Userdb_Password", e(Attributes{"Userdb_Password": {"x"}}), "Secret-pw", true},
		{"token", e(Attributes{"token": {"x"}}), "Secret-pw", true},
		{"value holds it", e(Attributes{"home": {"/home/Secret-pw/x"}}), "Secret-pw", true},
		{"nested", e(Attributes{"t": {map[string]any{"k": []any{"Secret-pw"}}}}), "Secret-pw", true},
		{"account is it", cacheEntry{account: "Secret-pw"}, "Secret-pw", true},
		{"short pw, substring", e(Attributes{"home": {"/home/abc"}}), "ab", false},
		{"short pw, equal", e(Attributes{"home": {"ab"}}), "ab", true},
		{"number", e(Attributes{"quota": {1234567}}), "1234567", true},
	} {
		if got := holdsSecret(c.e, c.pw); got != c.want {
			t.Errorf("%s: holdsSecret = %v, want %v", c.name, got, c.want)
		}
	}
}

// Instances with other password databases do not share answers.
func TestSharedCacheBoundToPassdbs(t *testing.T) {
	m := miniredis.RunT(t)
	a, _, _ := sharedEnv(t, m.Addr(), nil)
	b, _, _ := sharedEnv(t, m.Addr(), func(c *config.Config) {
		c.Auth.Passdb = append(c.Auth.Passdb, config.Passdb{Type: config.PassdbPasswdFile, Path: c.Auth.Passdb[0].Path})
	})
	cacheHeader(a, testUser, testPassword)
	if _, c := cacheHeader(b, testUser, testPassword); c != "Miss" {
		t.Errorf("other passdbs, same key file: %s", c)
	}
}

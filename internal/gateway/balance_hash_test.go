package gateway

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// testOriginSet is a set of origins 127.0.0.1:2001... with the given
// weights under policy.
func testOriginSet(t testing.TB, policy string, slowStart time.Duration, weights ...int) *originSet {
	t.Helper()
	b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: policy, HashKey: "x-key", SlowStart: slowStart}}
	for i, w := range weights {
		b.Origins = append(b.Origins, config.OriginEntry{Origin: fmt.Sprintf("http://127.0.0.1:%d", 2001+i), Weight: &w})
	}
	return newOriginSet("api", b, nil)
}

// snapshotOf makes a snapshot of s's origins: eligible unless listed in
// down, each with weight (the registry's effective weight).
func snapshotOf(s *originSet, weights []int, down ...int) *health.Snapshot {
	snap := &health.Snapshot{}
	for i, o := range s.origins {
		e := health.Backend{ID: o.id, Weight: weights[i], Healthy: true, Admin: health.Admin{State: health.AdminReady}}
		for _, d := range down {
			if d == i {
				e.Healthy = false
			}
		}
		e.Eligible, e.Reason = health.Eligibility(e, time.Now())
		snap.Backends = append(snap.Backends, e)
	}
	return snap
}

func testKey(i int) requestKey {
	return requestKey{hash: hashString(fmt.Sprintf("user-%d", i)), ok: true}
}

// mapping is each of n keys' origin index under snap.
func mapping(s *originSet, snap *health.Snapshot, n int) []int {
	idx := map[*upstreamOrigin]int{}
	for i, o := range s.origins {
		idx[o] = i
	}
	out := make([]int, n)
	for k := range n {
		cands := s.candidates(snap, time.Now(), nil, false, nil)
		out[k] = idx[s.choose(cands, testKey(k))]
	}
	return out
}

func shares(m []int, origins int) []float64 {
	out := make([]float64, origins)
	for _, i := range m {
		out[i] += 1 / float64(len(m))
	}
	return out
}

func TestRendezvousDistribution(t *testing.T) {
	const keys = 20000
	for _, weights := range [][]int{{1, 1, 1, 1}, {1, 2, 3, 4}, {10, 1}, {256, 1, 1}} {
		s := testOriginSet(t, config.BalanceHeaderHash, 0, weights...)
		got := shares(mapping(s, nil, keys), len(weights))
		total := 0
		for _, w := range weights {
			total += w
		}
		for i, w := range weights {
			want := float64(w) / float64(total)
			// 20000 keys: the standard deviation of a share is at most
			// 0.0035; 0.02 is over five of them.
			if math.Abs(got[i]-want) > 0.02 {
				t.Errorf("weights %v: origin %d share %.3f, want %.3f", weights, i, got[i], want)
			}
		}
	}
}

// Adding an origin moves about 1/n of the keys, all of them to the new
// origin; removing it again brings back the old mapping exactly.
func TestRendezvousAddRemoveMovesOnlyItsKeys(t *testing.T) {
	const keys = 10000
	four := testOriginSet(t, config.BalanceClientIPHash, 0, 1, 1, 1, 1)
	five := testOriginSet(t, config.BalanceClientIPHash, 0, 1, 1, 1, 1, 1)
	before, after := mapping(four, nil, keys), mapping(five, nil, keys)
	moved := 0
	for k := range keys {
		if before[k] != after[k] {
			moved++
			if after[k] != 4 {
				t.Fatalf("key %d moved from origin %d to %d, not to the new origin", k, before[k], after[k])
			}
		}
	}
	if frac := float64(moved) / keys; frac < 0.17 || frac > 0.23 {
		t.Errorf("adding a fifth origin moved %.3f of the keys, want about 0.2", frac)
	}
	if again := mapping(testOriginSet(t, config.BalanceClientIPHash, 0, 1, 1, 1, 1), nil, keys); fmt.Sprint(again) != fmt.Sprint(before) {
		t.Error("a new set of the same origins maps keys differently (the hash must not depend on the process)")
	}
}

// Ejecting an origin moves only its keys; recovering it restores the same
// mapping. Changing one origin's weight moves keys only to or from it.
func TestRendezvousEjectRecoverAndWeightChange(t *testing.T) {
	const keys = 10000
	weights := []int{1, 1, 1, 1}
	s := testOriginSet(t, config.BalanceHeaderHash, 0, weights...)
	healthy := mapping(s, snapshotOf(s, weights), keys)
	ejected := mapping(s, snapshotOf(s, weights, 2), keys)
	for k := range keys {
		switch {
		case ejected[k] == 2:
			t.Fatalf("key %d went to the ejected origin", k)
		case healthy[k] != 2 && ejected[k] != healthy[k]:
			t.Fatalf("key %d of origin %d moved to %d when origin 2 was ejected", k, healthy[k], ejected[k])
		}
	}
	if recovered := mapping(s, snapshotOf(s, weights), keys); fmt.Sprint(recovered) != fmt.Sprint(healthy) {
		t.Error("recovering the origin did not restore the mapping")
	}
	heavier := []int{1, 3, 1, 1}
	changed := mapping(s, snapshotOf(s, heavier), keys)
	for k := range keys {
		if changed[k] != healthy[k] && changed[k] != 1 {
			t.Fatalf("raising origin 1's weight moved key %d from %d to %d", k, healthy[k], changed[k])
		}
	}
	if got := shares(changed, 4)[1]; math.Abs(got-0.5) > 0.02 {
		t.Errorf("origin 1 with weight 3 of 6 has share %.3f", got)
	}
	// Weight 0 (the admin API) takes an origin out like an ejection.
	if zero := mapping(s, snapshotOf(s, []int{1, 1, 0, 1}), keys); fmt.Sprint(zero) != fmt.Sprint(ejected) {
		t.Error("weight 0 does not map like an ejection")
	}
}

// A retry leaves the origin tried out and goes to the key's second
// choice: the origin the key maps to once the first is ejected.
func TestRendezvousRetryTakesSecondChoice(t *testing.T) {
	weights := []int{1, 2, 1}
	s := testOriginSet(t, config.BalanceHeaderHash, 0, weights...)
	for k := range 200 {
		key := testKey(k)
		first := s.choose(s.candidates(nil, time.Now(), nil, false, nil), key)
		second := s.choose(s.candidates(nil, time.Now(), []*upstreamOrigin{first}, false, nil), key)
		down := 0
		for i, o := range s.origins {
			if o == first {
				down = i
			}
		}
		if want := s.choose(s.candidates(snapshotOf(s, weights, down), time.Now(), nil, false, nil), key); second != want || second == first {
			t.Fatalf("key %d: retry went to %s, want %s", k, second.name, want.name)
		}
	}
}

// Backups stay out while a primary is admitted, under a hash policy too.
func TestRendezvousSkipsBackups(t *testing.T) {
	b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: config.BalanceClientIPHash, Origins: config.OriginList{
		{Origin: "http://127.0.0.1:3001"}, {Origin: "http://127.0.0.1:3002", Backup: true}, {Origin: "http://127.0.0.1:3003"},
	}}}
	s := newOriginSet("api", b, nil)
	for k := range 500 {
		if o := s.choose(s.candidates(nil, time.Now(), nil, false, nil), testKey(k)); o.backup {
			t.Fatalf("key %d went to the backup", k)
		}
	}
}

// Without a key the fallback is round robin.
func TestRendezvousFallbackRoundRobin(t *testing.T) {
	s := testOriginSet(t, config.BalanceHeaderHash, 0, 1, 1, 1)
	seen := map[*upstreamOrigin]int{}
	for range 30 {
		seen[s.choose(s.candidates(nil, time.Now(), nil, false, nil), requestKey{})]++
	}
	for _, o := range s.origins {
		if seen[o] != 10 {
			t.Errorf("fallback gave %s %d of 30", o.name, seen[o])
		}
	}
}

func requestFrom(remote string, xff ...string) *http.Request {
	r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestClientAddr(t *testing.T) {
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	for _, tt := range []struct {
		name    string
		trusted trustedProxies
		r       *http.Request
		want    string
	}{
		{"untrusted peer: its own address", trusted, requestFrom("192.0.2.9:4000", "198.51.100.1"), "192.0.2.9"},
		{"no proxies trusted", nil, requestFrom("127.0.0.1:4000", "198.51.100.1"), "127.0.0.1"},
		{"trusted peer: the entry it wrote", trusted, requestFrom("10.0.0.1:4000", "198.51.100.1"), "198.51.100.1"},
		{"a client's own claim on the left is skipped", trusted, requestFrom("10.0.0.1:4000", "203.0.113.66, 198.51.100.1"), "198.51.100.1"},
		{"past every trusted hop", trusted, requestFrom("10.0.0.1:4000", "198.51.100.1, 10.1.1.1", "10.2.2.2"), "198.51.100.1"},
		{"all trusted: the leftmost", trusted, requestFrom("10.0.0.1:4000", "10.9.9.9, 10.1.1.1"), "10.9.9.9"},
		{"garbage stops at the last hop known", trusted, requestFrom("10.0.0.1:4000", "198.51.100.1, evil\x01, 10.3.3.3"), "10.3.3.3"},
		{"no header: the peer", trusted, requestFrom("10.0.0.1:4000"), "10.0.0.1"},
		// An empty entry is a hop without an address: the walk ends at
		// the last hop known, never on the claim to its left.
		{"empty entry the peer appended", trusted, requestFrom("10.0.0.1:4000", "198.51.100.7, "), "10.0.0.1"},
		{"empty line the peer added", trusted, requestFrom("10.0.0.1:4000", "198.51.100.7", ""), "10.0.0.1"},
		{"empty entry between trusted hops", trusted, requestFrom("10.0.0.1:4000", "198.51.100.7, , 10.3.3.3"), "10.3.3.3"},
		{"empty entries left of the client", trusted, requestFrom("10.0.0.1:4000", " , ,198.51.100.7"), "198.51.100.7"},
		{"only commas", trusted, requestFrom("10.0.0.1:4000", ",,,"), "10.0.0.1"},
		{"empty header", trusted, requestFrom("10.0.0.1:4000", ""), "10.0.0.1"},
		{"address and port", trusted, requestFrom("10.0.0.1:4000", "198.51.100.1:5555"), "198.51.100.1"},
		{"IPv6 with port", trusted, requestFrom("10.0.0.1:4000", "[2001:db8::1]:80"), "2001:db8::1"},
		{"mapped IPv4 peer", trusted, requestFrom("[::ffff:10.0.0.1]:4000", "198.51.100.1"), "198.51.100.1"},
		{"mapped IPv4 entry", trusted, requestFrom("10.0.0.1:4000", "::ffff:198.51.100.1"), "198.51.100.1"},
		{"zone dropped", nil, requestFrom("[fe80::1%eth0]:4000"), "fe80::1"},
		{"oversized entry", trusted, requestFrom("10.0.0.1:4000", strings.Repeat("1", 100000)), "10.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := clientAddr(tt.r, tt.trusted)
			if !ok || got.String() != tt.want {
				t.Errorf("clientAddr = %v %v, want %s", got, ok, tt.want)
			}
		})
	}
	if _, ok := clientAddr(requestFrom("not-an-address"), trusted); ok {
		t.Error("a RemoteAddr without a port gave an address")
	}
	// A long chain of trusted-looking entries stops after maxForwardedHops.
	chain := strings.TrimSuffix(strings.Repeat("10.0.0.5, ", 1000), ", ")
	if got, _ := clientAddr(requestFrom("10.0.0.1:4000", "198.51.100.1, "+chain), trusted); got.String() != "10.0.0.5" {
		t.Errorf("long chain: %v", got)
	}
}

func TestCookieValue(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lines []string
		want  string
		ok    bool
	}{
		{"one", []string{"lb=abc"}, "abc", true},
		{"among others", []string{"a=1; lb=abc; b=2"}, "abc", true},
		{"one line per cookie (HTTP/2)", []string{"a=1", "lb=abc"}, "abc", true},
		{"first occurrence wins", []string{"lb=first; lb=second", "lb=third"}, "first", true},
		{"quoted", []string{`lb="abc"`}, "abc", true},
		{"name is case-sensitive", []string{"LB=abc"}, "", false},
		{"prefix of another name", []string{"lbx=abc; xlb=def"}, "", false},
		{"missing", []string{"a=1"}, "", false},
		{"no lines", nil, "", false},
		{"empty", []string{"lb="}, "", false},
		{"control byte", []string{"lb=ab\x01c"}, "", false},
		{"DEL", []string{"lb=ab\x7fc"}, "", false},
		{"space inside", []string{"lb=a b"}, "", false},
		{"backslash", []string{`lb=a\b`}, "", false},
		{"quote inside", []string{`lb=a"b`}, "", false},
		{"non-ASCII", []string{"lb=ä"}, "", false},
		{"huge", []string{"lb=" + strings.Repeat("a", maxCookieValue+1)}, "", false},
		{"largest", []string{"lb=" + strings.Repeat("a", maxCookieValue)}, strings.Repeat("a", maxCookieValue), true},
		{"trailing blanks", []string{"lb=abc \t; x=1"}, "abc", true},
		{"no equals sign", []string{"lb; lb=abc"}, "abc", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := cookieValue(tt.lines, "lb")
			if got != tt.want || ok != tt.ok {
				t.Errorf("cookieValue = %q %v, want %q %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCookieTokenAndLine(t *testing.T) {
	a, b := newCookieToken(), newCookieToken()
	if a == b || len(a) != 22 || !cookieOctets(a) {
		t.Errorf("tokens %q %q", a, b)
	}
	if got := hashCookieLine("lb", a, false); got != "lb="+a+"; Path=/; HttpOnly; SameSite=Lax" {
		t.Errorf("line %q", got)
	}
	if got := hashCookieLine("lb", a, true); !strings.HasSuffix(got, "; Secure") {
		t.Errorf("https line %q", got)
	}
}

func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"lb=abc", "a=1; lb=\"x\"", "lb=a\x00b", "lb=;lb=x", ";;;", "lb"} {
		f.Add(s, "lb")
	}
	f.Fuzz(func(t *testing.T, line, name string) {
		v, ok := cookieValue([]string{line}, name)
		if !ok {
			if v != "" {
				t.Fatalf("not found but value %q", v)
			}
			return
		}
		if v == "" || len(v) > maxCookieValue || !cookieOctets(v) || !strings.Contains(line, v) {
			t.Fatalf("value %q from %q", v, line)
		}
	})
}

func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"198.51.100.1", "10.0.0.1, 198.51.100.1", "[::1]:80, x", " , ", "1.2.3.4:5"} {
		f.Add(s)
	}
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, xff string) {
		got, ok := clientAddr(requestFrom("10.0.0.1:4000", xff), trusted)
		if !ok {
			t.Fatal("no address for a valid peer")
		}
		known := got == netip.MustParseAddr("10.0.0.1")
		for _, entry := range strings.Split(xff, ",") {
			if a, ok := parseForwardedAddr(strings.TrimSpace(entry)); ok && a == got {
				known = true
			}
		}
		if !known {
			t.Fatalf("client %v is neither the peer nor an entry of %q", got, xff)
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("client %v not canonical", got)
		}
	})
}

package auth

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
)

func candidatesOf(weights ...int) []Candidate {
	out := make([]Candidate, len(weights))
	for i, w := range weights {
		out[i] = Candidate{ID: fmt.Sprintf("imap-%02d", i), Host: fmt.Sprintf("10.0.0.%d", i+1), Port: 143, Weight: w, Eligible: true}
	}
	return out
}

func poolOf(n int, except ...int) []int {
	var pool []int
next:
	for i := range n {
		for _, e := range except {
			if i == e {
				continue next
			}
		}
		pool = append(pool, i)
	}
	return pool
}

const movementUsers = 100000

// assign returns each user's backend ID under user_hash.
func assign(cands []Candidate, pool []int) []string {
	p := newPolicy(config.PolicyUserHash)
	out := make([]string, movementUsers)
	for u := range out {
		out[u] = cands[p.pick(fmt.Sprintf("user%06d@example.org", u), cands, pool, false)].ID
	}
	return out
}

// TestUserHashMovesOnlyTheChangedBackendsShare is the rendezvous property
// over 100,000 users: removing one of 10 backends moves exactly that
// backend's users (about a tenth), and its recovery moves exactly them back.
func TestUserHashMovesOnlyTheChangedBackendsShare(t *testing.T) {
	cands := candidatesOf(1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	before := assign(cands, poolOf(10))
	const removed = 3
	after := assign(cands, poolOf(10, removed))

	moved, ofRemoved := 0, 0
	for u := range before {
		if before[u] == cands[removed].ID {
			ofRemoved++
		}
		if before[u] != after[u] {
			moved++
			if before[u] != cands[removed].ID {
				t.Fatalf("user %d moved from %s to %s, but only %s left", u, before[u], after[u], cands[removed].ID)
			}
		}
	}
	if moved != ofRemoved {
		t.Errorf("moved %d users, want exactly the removed backend's %d", moved, ofRemoved)
	}
	if share := float64(moved) / movementUsers; math.Abs(share-0.1) > 0.01 {
		t.Errorf("moved share %.4f, want about 0.1", share)
	}
	t.Logf("remove 1 of 10: moved %d of %d users (%.2f %%), all of them the removed backend's", moved, movementUsers, 100*float64(moved)/movementUsers)

	// Recovery: exactly the same users come back.
	if back := assign(cands, poolOf(10)); !equalStrings(back, before) {
		t.Error("after recovery the assignment differs from before")
	}

	// Adding an 11th backend takes about 1/11 and only moves users to it.
	grown := candidatesOf(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	added := assign(grown, poolOf(11))
	gained := 0
	for u := range before {
		if added[u] != before[u] {
			gained++
			if added[u] != grown[10].ID {
				t.Fatalf("user %d moved from %s to %s when %s was added", u, before[u], added[u], grown[10].ID)
			}
		}
	}
	if share := float64(gained) / movementUsers; math.Abs(share-1.0/11) > 0.01 {
		t.Errorf("added backend took %.4f, want about %.4f", share, 1.0/11)
	}
	t.Logf("add an 11th: moved %d users (%.2f %%), all to the new backend", gained, 100*float64(gained)/movementUsers)
}

func TestUserHashHonoursWeights(t *testing.T) {
	cands := candidatesOf(1, 2)
	got := assign(cands, poolOf(2))
	heavy := 0
	for _, id := range got {
		if id == cands[1].ID {
			heavy++
		}
	}
	if share := float64(heavy) / movementUsers; math.Abs(share-2.0/3) > 0.02 {
		t.Errorf("weight 2 of 1:2 got %.4f of the users, want about 0.667", share)
	}
	t.Logf("weights 1:2: %.4f / %.4f", 1-float64(heavy)/movementUsers, float64(heavy)/movementUsers)

	// Raising one weight only moves users to that backend.
	cands3 := candidatesOf(1, 1, 1)
	base := assign(cands3, poolOf(3))
	cands3[2].Weight = 3
	raised := assign(cands3, poolOf(3))
	for u := range base {
		if base[u] != raised[u] && raised[u] != cands3[2].ID {
			t.Fatalf("user %d moved %s -> %s when only imap-02's weight rose", u, base[u], raised[u])
		}
	}
}

func TestUserHashIsStableAndKeyedByID(t *testing.T) {
	cands := candidatesOf(1, 1, 1, 1)
	p := newPolicy(config.PolicyUserHash)
	// A fixed expectation: the hash must not change between releases or
	// instances, or every user moves on upgrade.
	var got []string
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin"} {
		got = append(got, cands[p.pick(u, cands, poolOf(4), false)].ID)
	}
	want := []string{"imap-03", "imap-02", "imap-00", "imap-03", "imap-00"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user_hash assignment changed (-want +got):\n%s", diff)
	}
	// The address is not hashed: a backend that moves keeps its users.
	moved := append([]Candidate(nil), cands...)
	moved[1].Host = "192.0.2.99"
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin"} {
		if a, b := p.pick(u, cands, poolOf(4), false), p.pick(u, moved, poolOf(4), false); a != b {
			t.Errorf("%s moved when imap-01 changed its address", u)
		}
	}
	// "ab"+"c" and "a"+"bc" differ.
	if rendezvousScore(fnv1aByte(fnv1a(fnvOffset, "ab"), 0), "c", 1) == rendezvousScore(fnv1aByte(fnv1a(fnvOffset, "a"), 0), "bc", 1) {
		t.Error("user and ID are not separated in the hash")
	}
}

func TestWeightedRoundRobinIsSmooth(t *testing.T) {
	cands := candidatesOf(5, 1, 1)
	p := newPolicy(config.PolicyWeightedRoundRobin)
	var seq []string
	for range 14 {
		seq = append(seq, strings.TrimPrefix(cands[p.pick("", cands, poolOf(3), false)].ID, "imap-0"))
	}
	// nginx's smooth weighted round robin for 5:1:1: a a b a c a a, twice.
	want := []string{"0", "0", "1", "0", "2", "0", "0", "0", "0", "1", "0", "2", "0", "0"}
	if diff := cmp.Diff(want, seq); diff != "" {
		t.Errorf("sequence (-want +got):\n%s", diff)
	}

	// Over many picks the shares follow the weights, and a dry run (explain)
	// names the next pick without taking it.
	cands = candidatesOf(1, 2)
	p = newPolicy(config.PolicyWeightedRoundRobin)
	count := map[string]int{}
	for range 3000 {
		next := p.pick("", cands, poolOf(2), true)
		if again := p.pick("", cands, poolOf(2), true); again != next {
			t.Fatal("a dry run advanced the policy")
		}
		if got := p.pick("", cands, poolOf(2), false); got != next {
			t.Fatalf("dry run said %d, real pick was %d", next, got)
		}
		count[cands[next].ID]++
	}
	if count["imap-00"] != 1000 || count["imap-01"] != 2000 {
		t.Errorf("1:2 over 3000 picks: %v", count)
	}
}

func TestRoundRobinDryRunDoesNotAdvance(t *testing.T) {
	cands := candidatesOf(1, 1, 1)
	p := newPolicy(config.PolicyRoundRobin)
	for range 5 {
		next := p.pick("", cands, poolOf(3), true)
		if p.pick("", cands, poolOf(3), true) != next || p.pick("", cands, poolOf(3), false) != next {
			t.Fatal("dry run and real pick disagree")
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWeightedRoundRobinConcurrent: picks from many goroutines (run with
// -race) still add up to the weights exactly over whole cycles.
func TestWeightedRoundRobinConcurrent(t *testing.T) {
	cands := candidatesOf(3, 1, 2)
	p := newPolicy(config.PolicyWeightedRoundRobin)
	const workers, cycles = 8, 50 // 6 picks per cycle
	counts := make([][3]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range cycles * 6 {
				counts[w][p.pick("", cands, poolOf(3), false)]++
			}
		})
	}
	wg.Wait()
	var total [3]int
	for _, c := range counts {
		for i := range c {
			total[i] += c[i]
		}
	}
	if want := [3]int{3 * workers * cycles, workers * cycles, 2 * workers * cycles}; total != want {
		t.Errorf("picks %v, want %v", total, want)
	}
}

package auth

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// AffinityInfo is what the sticky policy did with a user's affinity, for
// explain and logs.
type AffinityInfo struct {
	// Stored is the backend ID stored for the user and protocol; empty
	// when there was none (or the store could not be read).
	Stored string `json:"stored"`
	// Used: the stored backend was chosen.
	Used bool `json:"used"`
	// Reason says why it was not used, what was stored, or that a
	// drained stored backend was kept.
	Reason string `json:"reason,omitempty"`
}

// Affinity results (backline_affinity_total{result}).
const (
	affKept     = "kept"     // the stored backend was eligible and chosen
	affNew      = "new"      // none stored: chosen by user_hash and stored
	affMoved    = "moved"    // the stored one was not eligible: re-chosen and stored
	affFilter   = "filter"   // a filter chose: its choice was stored
	affFallback = "fallback" // the store failed: user_hash, nothing stored
	affDrained  = "drained"  // the stored backend was drained: kept, not refreshed
)

// stickyPolicy keeps a user on the backend stored for it while that
// backend is eligible, or drained but otherwise eligible (until the entry
// expires, unrefreshed: affinity_drain.go), and otherwise chooses with
// user_hash (weighted rendezvous) and stores the choice. The store is
// shared by every instance on storage.redis; store trouble never fails a
// login (user_hash decides).
type stickyPolicy struct {
	store state.AffinityStore
	ttl   time.Duration
	log   *slog.Logger
	total *prometheus.CounterVec
	errs  prometheus.Counter
	// lastLog is when store trouble was last logged (unix ns): at most
	// once per affinityLogEvery, with the count of errors since.
	lastLog    atomic.Int64
	suppressed atomic.Int64
	// downUntil (unix ns, 0 = up): after a store error, logins skip the
	// store until then, so a Redis that hangs costs one login its
	// timeout per affinityRetry, not every login.
	downUntil atomic.Int64
	now       func() time.Time
}

// affinityRetry is how long logins skip a store that failed.
const affinityRetry = time.Second

// affinityLogEvery rate-limits the store-trouble log line.
const affinityLogEvery = time.Minute

func (*stickyPolicy) name() string { return config.PolicySticky }

// pick is user_hash: selection calls choose, which has the protocol and
// the store; pick serves a caller that has neither.
func (*stickyPolicy) pick(user string, cands []Candidate, pool []int, dry bool) int {
	return userHashPolicy{}.pick(user, cands, pool, dry)
}

// setupSticky gives a sticky policy its store (opts.Affinity, or a memory
// store of its own), TTL, log and metrics; other policies need nothing.
func (h *Handler) setupSticky(opts Options) error {
	p, ok := h.policy.(*stickyPolicy)
	if !ok {
		return nil
	}
	p.store = opts.Affinity
	if p.store == nil {
		p.store = state.NewMemoryAffinityStore(0, nil)
	}
	p.ttl = opts.Config.Auth.Nginx.EffectiveAffinityTTL()
	p.log = h.log
	p.now = time.Now
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	var err error
	p.total, err = adopt(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backline_affinity_total",
		Help: "Sticky selections by what the user's affinity did: kept, new, moved, drained (a drained stored backend kept, not refreshed), filter (a filter's choice stored), fallback (store unavailable, user_hash).",
	}, []string{"result"}))
	if err != nil {
		return err
	}
	p.errs, err = adopt(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backline_affinity_store_errors_total",
		Help: "Affinity store operations that failed (Redis unreachable or slow); the login went on with user_hash.",
	}))
	return err
}

// choose is the sticky selection among pool (eligible, non-empty). A
// login makes one store call, GetOrSet with the user_hash pick as the
// candidate (computed first: it is local and cheap), which refreshes a
// stored entry or stores the candidate for a first login. Only a stored
// backend that is no longer eligible costs a second call (Set), when the
// user moves. A dry run (explain) only reads (Get without refresh).
//
// A stored backend that is drained but otherwise eligible keeps its user,
// so the sessions a user has open there (IMAP IDLE) are not split across
// two mailbox servers; GetOrSet leaves its entry's TTL alone, so its users
// leave within affinity_ttl of their last login before the drain.
func (p *stickyPolicy) choose(in selectInput, proto string, cands []Candidate, pool []int, sel *Selection) int {
	info := sel.affinityInfo()
	k := state.AffinityKey{User: in.user, Protocol: proto}
	ctx := context.Background() // bounded by storage.redis timeouts
	if !in.dry && p.skipping() {
		info.Reason = "affinity store unavailable; user_hash"
		p.count(affFallback, false)
		return p.pick(in.user, cands, pool, false)
	}
	i := p.pick(in.user, cands, pool, in.dry)
	var (
		stored      string
		ok, created bool
		err         error
	)
	if in.dry {
		stored, ok, err = p.store.Get(ctx, k, 0)
	} else {
		stored, created, err = p.store.GetOrSet(ctx, k, cands[i].ID, p.ttl, drainingIDs(cands))
		ok = !created
	}
	if err != nil {
		if errors.Is(err, state.ErrInvalidAffinity) {
			// A name no store keeps (empty, oversized): no affinity.
			info.Reason = "no affinity for this user name; user_hash"
			return i
		}
		info.Reason = "affinity store unavailable; user_hash"
		p.trouble(err, in.dry)
		p.count(affFallback, in.dry)
		return i
	}
	if created {
		info.Stored = stored
		info.Reason = "no backend stored; chosen by user_hash and stored"
		p.count(affNew, false)
		return i
	}
	if ok {
		info.Stored = stored
		for _, j := range pool {
			// Eligible: in a use_all panic the pool also holds unhealthy
			// backends; a stored one of those is not kept.
			if cands[j].ID == stored && cands[j].Eligible {
				info.Used = true
				p.count(affKept, in.dry)
				return j
			}
		}
		if j := keepDrained(cands, pool, stored); j >= 0 {
			info.Used, info.Reason = true, drainedKeptReason(stored)
			p.count(affDrained, in.dry)
			return j
		}
		info.Reason = "stored backend " + stored + " is not eligible; re-chosen by user_hash"
		if storedBackupIdle(cands, stored) {
			// Kept through an outage, the user goes home with the primaries.
			info.Reason = "stored backend " + stored + " is a backup and a primary is eligible; re-chosen by user_hash"
		}
	} else {
		info.Reason = "no backend stored; chosen by user_hash"
	}
	if in.dry {
		info.Reason += " (a login would store it)"
		return i
	}
	// The stored backend is not eligible (rare: a drain, a failure): the
	// second round trip stores the new choice.
	result := affMoved
	if err := p.store.Set(ctx, k, cands[i].ID, p.ttl); err != nil {
		p.trouble(err, false)
		result = affFallback
	}
	p.count(result, false)
	return i
}

// storedBackupIdle: the stored backend is an eligible backup left out of
// the pool because a primary is eligible again.
func storedBackupIdle(cands []Candidate, stored string) bool {
	for i := range cands {
		if cands[i].ID == stored {
			return cands[i].Backup && cands[i].Eligible
		}
	}
	return false
}

// affinityInfo is sel's affinity part, kept in the Selection (no
// allocation of its own).
func (s *Selection) affinityInfo() *AffinityInfo {
	s.Affinity = &s.aff
	return s.Affinity
}

// storeFilterChoice keeps the backend a filter chose as the user's
// affinity, so the user stays there when the filter later does not choose.
// A dry run only reads what is stored.
func (p *stickyPolicy) storeFilterChoice(in selectInput, proto, id string, sel *Selection) {
	info := sel.affinityInfo()
	k := state.AffinityKey{User: in.user, Protocol: proto}
	ctx := context.Background()
	if !in.dry && p.skipping() {
		info.Reason = "a filter chose; affinity store unavailable"
		return
	}
	if in.dry {
		if stored, ok, err := p.store.Get(ctx, k, 0); err == nil && ok {
			info.Stored = stored
		}
		info.Reason = "a filter chose; a login would store its choice"
		return
	}
	info.Stored = id
	info.Reason = "a filter chose; its choice was stored"
	err := p.store.Set(ctx, k, id, p.ttl)
	switch {
	case err == nil:
		p.count(affFilter, false)
	case errors.Is(err, state.ErrInvalidAffinity):
		info.Stored, info.Reason = "", "a filter chose; no affinity for this user name"
	default:
		info.Stored, info.Reason = "", "a filter chose; affinity store unavailable"
		p.trouble(err, false)
	}
}

// skipping reports whether the store failed less than affinityRetry ago.
func (p *stickyPolicy) skipping() bool {
	d := p.downUntil.Load()
	if d == 0 {
		return false
	}
	if p.clock().UnixNano() < d {
		return true
	}
	p.downUntil.CompareAndSwap(d, 0) // try the store again
	return false
}

func (p *stickyPolicy) clock() time.Time {
	if p.now == nil {
		return time.Now()
	}
	return p.now()
}

func (p *stickyPolicy) count(result string, dry bool) {
	if !dry && p.total != nil {
		p.total.WithLabelValues(result).Inc()
	}
}

// trouble counts a store error and logs it at most once per
// affinityLogEvery (a Redis outage would otherwise log every login).
func (p *stickyPolicy) trouble(err error, dry bool) {
	if dry {
		return
	}
	if p.errs != nil {
		p.errs.Inc()
	}
	now := p.clock().UnixNano()
	p.downUntil.Store(now + int64(affinityRetry))
	last := p.lastLog.Load()
	if now-last < int64(affinityLogEvery) || !p.lastLog.CompareAndSwap(last, now) {
		p.suppressed.Add(1)
		return
	}
	if p.log != nil {
		p.log.LogAttrs(context.Background(), slog.LevelWarn, "affinity store unavailable; selecting by user_hash",
			slog.String("error", err.Error()), slog.Int64("errors_since_last_log", p.suppressed.Swap(0)))
	}
}

package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxWhyLen bounds an admin change's reason text (bytes).
const MaxWhyLen = 256

// maxWhoLen bounds the name of who made a change (bytes).
const maxWhoLen = 128

// ErrInvalidAdmin wraps every refused admin change.
var ErrInvalidAdmin = errors.New("invalid admin change")

// AdminChange is one operator change; nil fields stay as they are.
type AdminChange struct {
	State        *AdminState
	Weight       *int
	Health       *ForcedHealth
	ChecksPaused *bool
	// TTL, when positive, returns the backend to its configuration TTL
	// from now ("maint for 30m"); zero leaves the current end as it is.
	TTL time.Duration
	Who string
	Why *string
}

// override is an API change kept apart from the configuration, keyed by
// backend ID in Engine.admin. Zero values mean "as configured".
type override struct {
	state     AdminState
	weight    int
	weightSet bool
	health    ForcedHealth
	paused    bool
	who, why  string
	since     time.Time
	until     time.Time
}

func (o *override) expired(now time.Time) bool {
	return !o.until.IsZero() && !now.Before(o.until)
}

// effective is the Admin of a backend with configured weight cfgWeight
// under o (nil: the configuration).
func (o *override) effective(cfgWeight int) Admin {
	if o == nil {
		return defaultAdmin(cfgWeight)
	}
	a := Admin{State: AdminReady, Weight: cfgWeight, Health: HealthAuto, ChecksPaused: o.paused,
		Who: o.who, Why: o.why, Since: o.since, Until: o.until, Source: SourceAPI}
	if o.state != "" {
		a.State = o.state
	}
	if o.weightSet {
		a.Weight = o.weight
	}
	if o.health != "" {
		a.Health = o.health
	}
	return a
}

// OnAdminChange adds f to the functions called (outside any engine lock,
// in the order added) after every admin change, TTL expiry and
// ReplaceAdmin included; the state file is written from one, shared
// storage is told from another.
func (e *Engine) OnAdminChange(f func()) {
	e.mu.Lock()
	e.onAdmin = append(e.onAdmin, f)
	e.mu.Unlock()
}

func (e *Engine) adminChanged() {
	e.mu.Lock()
	fs := e.onAdmin
	e.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// GetAdmin returns a backend's current admin state; false for an unknown ID.
// An override whose TTL has passed reads as the configuration.
func (e *Engine) GetAdmin(id string) (Admin, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.gen.Load().byID[id]
	if s == nil {
		return Admin{}, false
	}
	o := e.admin[id]
	if o != nil && o.expired(e.now()) {
		o = nil
	}
	return o.effective(s.weight), true
}

// SetAdmin applies ch to a backend and publishes a new snapshot at once, so
// the next selection already sees it.
func (e *Engine) SetAdmin(id string, ch AdminChange) (Admin, error) {
	if err := ch.validate(); err != nil {
		return Admin{}, err
	}
	e.mu.Lock()
	s := e.gen.Load().byID[id]
	if s == nil {
		e.mu.Unlock()
		return Admin{}, fmt.Errorf("%w %q", ErrUnknownBackend, id)
	}
	now := e.now()
	o := e.admin[id]
	fresh := o == nil || o.expired(now)
	if fresh {
		o = &override{}
	} else {
		c := *o
		o = &c
	}
	before := o.effective(s.weight)
	if ch.State != nil {
		o.state = *ch.State
	}
	if ch.Weight != nil {
		o.weight, o.weightSet = *ch.Weight, true
	}
	if ch.Health != nil {
		o.health = *ch.Health
	}
	if ch.ChecksPaused != nil {
		o.paused = *ch.ChecksPaused
	}
	if ch.TTL > 0 {
		o.until = now.Add(ch.TTL)
	}
	if ch.Why != nil {
		o.why = *ch.Why
	}
	a := o.effective(s.weight)
	// since and who say when and by whom the backend entered its admin
	// state ("draining since 06:55 by alice"): a change of the weight,
	// the reason or the TTL alone, or the same state sent again to extend
	// a drain, keeps them. The log line names whoever made each change.
	if fresh || a.State != before.State || a.Health != before.Health || a.ChecksPaused != before.ChecksPaused {
		o.who, o.since = ch.Who, now
		a.Who, a.Since = o.who, o.since
	}
	e.admin[id] = o
	s.paused.Store(o.paused)
	e.publishLocked(time.Time{})
	e.mu.Unlock()
	e.countAdminChange(a.State)
	e.logAdmin(id, "backend admin state changed", a, ch.Who)
	e.adminChanged()
	return a, nil
}

// ResetAdmin drops a backend's override: it returns to its configuration.
func (e *Engine) ResetAdmin(id string) (Admin, error) {
	e.mu.Lock()
	s := e.gen.Load().byID[id]
	if s == nil {
		e.mu.Unlock()
		return Admin{}, fmt.Errorf("%w %q", ErrUnknownBackend, id)
	}
	delete(e.admin, id)
	s.paused.Store(false)
	a := defaultAdmin(s.weight)
	e.publishLocked(time.Time{})
	e.mu.Unlock()
	e.countAdminChange(a.State)
	e.logAdmin(id, "backend admin state reset to configuration", a, a.Who)
	e.adminChanged()
	return a, nil
}

func (e *Engine) countAdminChange(state AdminState) {
	if m := e.metrics; m != nil {
		m.adminChanges.WithLabelValues(string(state)).Inc()
	}
}

// logAdmin logs a change made by who; a.Who may name whoever set the
// state before, when the change kept it.
func (e *Engine) logAdmin(id, msg string, a Admin, who string) {
	until := ""
	if !a.Until.IsZero() {
		until = a.Until.UTC().Format(time.RFC3339)
	}
	e.logger.Info(msg, "backend", id, "state", string(a.State), "weight", a.Weight,
		"health", string(a.Health), "checks_paused", a.ChecksPaused, "who", who, "why", a.Why, "until", until)
}

func (ch *AdminChange) validate() error {
	if ch.State != nil {
		switch *ch.State {
		case AdminReady, AdminDrain, AdminMaint:
		default:
			return fmt.Errorf("%w: state must be ready, drain or maint", ErrInvalidAdmin)
		}
	}
	if ch.Weight != nil && (*ch.Weight < 0 || *ch.Weight > MaxWeight) {
		return fmt.Errorf("%w: weight must be 0..%d", ErrInvalidAdmin, MaxWeight)
	}
	if ch.Health != nil {
		switch *ch.Health {
		case HealthAuto, HealthUp, HealthDown:
		default:
			return fmt.Errorf("%w: health must be auto, up or down", ErrInvalidAdmin)
		}
	}
	if ch.TTL < 0 {
		return fmt.Errorf("%w: ttl must not be negative", ErrInvalidAdmin)
	}
	if ch.Why != nil {
		if err := CheckAdminText("why", *ch.Why, MaxWhyLen); err != nil {
			return err
		}
	}
	return CheckAdminText("who", ch.Who, maxWhoLen)
}

// CheckAdminText refuses text for who or why that is too long, not UTF-8 or
// holds control characters (they would forge log lines or break the page).
func CheckAdminText(field, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalidAdmin, field, limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidAdmin, field)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: %s contains control characters", ErrInvalidAdmin, field)
	}
	return nil
}

// applyAdminLocked sets every entry's admin state, effective weight and
// eligibility, drops expired overrides and notes when the next re-check is
// due. e.mu must be held.
func (e *Engine) applyAdminLocked(backends []Backend, now time.Time) {
	var recheck time.Time
	note := func(t time.Time) {
		if !t.IsZero() && (recheck.IsZero() || t.Before(recheck)) {
			recheck = t
		}
	}
	for id, o := range e.admin {
		if o.expired(now) {
			delete(e.admin, id)
			if s := e.gen.Load().byID[id]; s != nil {
				s.paused.Store(false)
			}
			e.adminExpired = true
		} else {
			note(o.until)
		}
	}
	hasAdmin := len(e.admin) > 0
	byID := e.gen.Load().byID
	for i := range backends {
		b := &backends[i]
		// Entries come fresh from a loop (Weight is the configured weight)
		// or from an earlier publish, where an API weight or the agent may
		// have replaced it: the registry knows the configured one.
		s := byID[b.ID]
		cfgWeight := b.Weight
		if s != nil {
			cfgWeight = s.weight
		}
		var o *override
		if hasAdmin {
			o = e.admin[b.ID]
		}
		b.Admin = o.effective(cfgWeight)
		b.Weight = b.Admin.Weight
		b.ChecksPaused = b.Admin.ChecksPaused
		applyPassive(b, s)
		applyAgent(b, s)
		b.Eligible, b.Reason, b.Draining = assess(b, now)
		// A draining backend turning stale stops keeping its users.
		if b.Eligible || b.Draining || b.Reason == ReasonWeightZero {
			note(staleAt(b))
		}
		if isEjected(b, now) {
			note(b.EjectedUntil) // republish when the ejection ends
		}
	}
	e.recheckAt = recheck
}

// recheckInterval is how often the engine looks whether a TTL ended or a
// backend turned stale between rounds.
const recheckInterval = time.Second

// expiryLoop republishes when an admin TTL ends or a backend turns stale
// with no round to notice it (long intervals, a stuck group). It returns a
// channel closed when it stopped.
func (e *Engine) expiryLoop(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(recheckInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				e.recheck()
			}
		}
	}()
	return done
}

// recheck publishes a new snapshot if an eligibility may have changed.
func (e *Engine) recheck() {
	e.mu.Lock()
	if e.recheckAt.IsZero() || e.now().Before(e.recheckAt) {
		e.mu.Unlock()
		return
	}
	snap := e.publishLocked(time.Time{})
	expired := e.adminExpired
	e.adminExpired = false
	e.mu.Unlock()
	if e.published != nil {
		e.published(snap)
	}
	if expired {
		e.adminChanged()
	}
}

// adminIDs lists the IDs with an override, sorted (tests, state file).
func (e *Engine) adminIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]string, 0, len(e.admin))
	for id := range e.admin {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

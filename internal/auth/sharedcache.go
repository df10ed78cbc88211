package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// sharedCache is the positive cache on a state.AuthCacheStore: Redis
// (storage.redis), shared by every instance. The key is the login's HMAC
// under auth.cache.hmac_key_file (positiveCache.key), so every instance
// finds what another cached. The value is the answer to repeat (account,
// account field, attributes) with a MAC under a key derived from the same
// secret: a Redis that others can write cannot turn one user's entry into
// another's answer. It never holds a password: an answer whose attributes
// carry one is not shared (the local database is asked every time).
//
// Redis trouble is a miss, never a failure. The daemon's store
// (state.FallbackAuthCacheStore) already answers from local memory while
// Redis is down, so errors rarely reach here; for a store without that,
// the login goes to the password databases, the outage is logged once a
// minute and counted, and the store is left alone for a second after an
// error so logins do not each wait for its timeout.
type sharedCache struct {
	store    state.AuthCacheStore
	ttl      time.Duration
	valueKey []byte
	log      *slog.Logger
	errors   *prometheus.CounterVec
	now      func() time.Time

	skipUntil    atomic.Int64 // unix nanos: no Redis before then
	lastLog      atomic.Int64 // unix nanos of the last outage log line
	pendingClear atomic.Bool  // a Clear failed: no hit until one succeeds
}

// Timing of the shared cache's outage handling.
const (
	sharedCacheBackoff  = time.Second
	sharedCacheLogEvery = time.Minute
	sharedCacheTimeout  = time.Second // bound on one store call
)

// Reasons of backline_auth_cache_shared_errors_total.
const (
	sharedErrUnavailable = "unavailable"
	sharedErrForged      = "bad_mac"
	sharedErrSecret      = "secret_attribute"
	sharedErrTooLarge    = "too_large"
)

func newSharedCacheErrors(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backline_auth_cache_shared_errors_total",
		Help: "Shared (Redis) auth cache trouble, each a miss: unavailable, unreadable values (oversized, not_json, version, wrong_type, bad_mac), answers not shared (secret_attribute, too_large).",
	}, []string{"reason"})
	if reg == nil {
		return c, nil
	}
	return adopt(reg, c)
}

// newSharedCache wraps store; secret is auth.cache.hmac_key_file's content.
func newSharedCache(store state.AuthCacheStore, ttl time.Duration, secret []byte, log *slog.Logger, errs *prometheus.CounterVec) *sharedCache {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("backline auth cache value key v1"))
	return &sharedCache{store: store, ttl: ttl, valueKey: m.Sum(nil), log: log, errors: errs, now: time.Now}
}

// corrupt counts a stored value the store could not read (its OnCorrupt).
func (s *sharedCache) corrupt(reason string) { s.errors.WithLabelValues(reason).Inc() }

// sharedValue is the JSON an entry holds. D is the answer as encoded,
// M the hex MAC of the entry's key and D.
type sharedValue struct {
	D json.RawMessage `json:"d"`
	M string          `json:"m"`
}

type sharedAnswer struct {
	Account      string     `json:"account"`
	AccountField string     `json:"account_field,omitempty"`
	Attributes   Attributes `json:"attributes,omitempty"`
}

func (s *sharedCache) mac(k cacheKey, d []byte) string {
	m := hmac.New(sha256.New, s.valueKey)
	m.Write(k[:])
	m.Write(d)
	return hex.EncodeToString(m.Sum(nil))
}

func (s *sharedCache) get(ctx context.Context, k cacheKey) (cacheEntry, bool) {
	if !s.available() {
		return cacheEntry{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, sharedCacheTimeout)
	defer cancel()
	if s.pendingClear.Load() {
		if err := s.store.Clear(ctx); err != nil {
			s.failed(err)
			return cacheEntry{}, false
		}
		s.pendingClear.Store(false)
	}
	raw, ok, err := s.store.Get(ctx, k[:])
	if err != nil {
		s.failed(err)
		return cacheEntry{}, false
	}
	if !ok {
		return cacheEntry{}, false
	}
	var v sharedValue
	if json.Unmarshal(raw, &v) != nil || !hmac.Equal([]byte(v.M), []byte(s.mac(k, v.D))) {
		s.corrupt(sharedErrForged)
		return cacheEntry{}, false
	}
	var a sharedAnswer
	dec := json.NewDecoder(bytes.NewReader(v.D))
	dec.UseNumber() // numbers keep their text, as the database gave them
	if dec.Decode(&a) != nil {
		s.corrupt(state.CorruptNotJSON)
		return cacheEntry{}, false
	}
	return cacheEntry{account: a.Account, accountField: a.AccountField, attributes: a.Attributes}, true
}

// put shares e unless it carries a secret (password) of the login.
func (s *sharedCache) put(ctx context.Context, k cacheKey, e cacheEntry, password string) {
	if holdsSecret(e, password) {
		s.corrupt(sharedErrSecret)
		return
	}
	if !s.available() {
		return
	}
	d, err := json.Marshal(sharedAnswer{Account: e.account, AccountField: e.accountField, Attributes: e.attributes})
	if err != nil {
		return // an attribute JSON cannot hold: not shared
	}
	val, _ := json.Marshal(sharedValue{D: d, M: s.mac(k, d)})
	ctx, cancel := context.WithTimeout(ctx, sharedCacheTimeout)
	defer cancel()
	err = s.store.Set(ctx, k[:], val, s.ttl)
	switch {
	case errors.Is(err, state.ErrInvalidCacheEntry):
		s.corrupt(sharedErrTooLarge)
	case err != nil:
		s.failed(err)
	}
}

// clear voids every instance's entries (a passwd-file changed). If Redis
// cannot take it now, no entry is trusted until it can.
func (s *sharedCache) clear() {
	s.pendingClear.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), sharedCacheTimeout)
	defer cancel()
	if err := s.store.Clear(ctx); err != nil {
		s.failed(err)
		return
	}
	s.pendingClear.Store(false)
}

func (s *sharedCache) available() bool { return s.now().UnixNano() >= s.skipUntil.Load() }

// failed notes a store error: a back-off, a count, a log line a minute.
func (s *sharedCache) failed(err error) {
	now := s.now()
	s.skipUntil.Store(now.Add(sharedCacheBackoff).UnixNano())
	s.errors.WithLabelValues(sharedErrUnavailable).Inc()
	last := s.lastLog.Load()
	if now.UnixNano()-last >= int64(sharedCacheLogEvery) && s.lastLog.CompareAndSwap(last, now.UnixNano()) {
		s.log.Warn("shared auth cache unavailable, logins go to the password databases", "error", err)
	}
}

// holdsSecret reports whether sharing e would put a secret in Redis: an
// attribute named like one, or any text containing the password. Unlike
// the answer's redaction (equality only), a substring is enough here: an
// answer not shared costs one database lookup, not a routing attribute.
// Passwords under 4 bytes match whole values only.
func holdsSecret(e cacheEntry, password string) bool {
	contains := func(s string) bool {
		if len(password) < 4 {
			return s == password
		}
		return strings.Contains(s, password)
	}
	if password != "" && (contains(e.account) || contains(e.accountField)) {
		return true
	}
	for name, values := range e.attributes {
		if sensitiveAttribute(name) || strings.Contains(strings.ToLower(name), "pass") {
			return true
		}
		if password == "" {
			continue
		}
		if contains(name) {
			return true
		}
		for _, v := range values {
			if s, ok := v.(string); ok {
				if contains(s) {
					return true
				}
				continue
			}
			b, err := json.Marshal(v) // numbers, lists, tables from Lua
			if err != nil || (len(password) >= 4 && bytes.Contains(b, []byte(password))) {
				return true
			}
		}
	}
	return false
}

// newCache builds the handler's positive cache: shared when opts carry a
// store and the configuration a key, this process's memory otherwise.
func newCache(opts Options, ttl time.Duration) (*positiveCache, error) {
	ac := opts.Config.Auth.Cache
	if opts.SharedCache == nil {
		return newPositiveCache(ttl, max(ac.EffectiveMaxEntries(), 1)), nil
	}
	if len(ac.HMACKey) == 0 {
		return nil, errors.New("auth: a shared cache needs auth.cache.hmac_key_file")
	}
	errs, err := newSharedCacheErrors(opts.Registerer)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	secret := passdbSecret(ac.HMACKey, opts.Config.Auth.Passdb)
	c := newKeyedCache(ttl, 1, secret)
	c.shared = newSharedCache(opts.SharedCache, ttl, secret, log.With("component", "auth-cache"), errs)
	if r, ok := opts.SharedCache.(interface{ SetOnCorrupt(func(string)) }); ok {
		r.SetOnCorrupt(c.shared.corrupt)
	}
	return c, nil
}

// passdbSecret binds the shared cache's keys to the list of password
// databases (order, type, name, protocol; not file paths, which may differ
// between hosts): instances with other databases never take each other's
// answers, and a reload that changes that list starts from an empty cache,
// as the memory cache does.
func passdbSecret(key []byte, dbs []config.Passdb) []byte {
	type shape struct{ Type, Name, Protocol string }
	list := make([]shape, len(dbs))
	for i, db := range dbs {
		list[i] = shape{db.Type, db.Name, db.Protocol}
	}
	desc, _ := json.Marshal(list)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("backline auth cache key v1\x00"))
	m.Write(desc)
	return m.Sum(nil)
}

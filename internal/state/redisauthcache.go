package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisAuthCacheStore keeps the auth cache in Redis, shared by every
// instance on the same Redis and prefix. Layout (one hash tag, so a Redis
// Cluster keeps the cache in one slot and a lookup is one round trip there
// too):
//
//	<prefix>{authcache}:e:<hex key>  an entry (redisCacheValue), with the
//	                                 TTL as its Redis expiry
//	<prefix>{authcache}:epoch        a random token Clear replaces; an entry
//	                                 counts only under the epoch it was
//	                                 written in
//
// Clear is then one SET rather than a SCAN over every entry. Get reads the
// epoch and the entry in one pipeline; Set writes under the epoch the
// latest Get saw. A Set racing a Clear can only write an entry under an
// older epoch, which no Get accepts: the race costs a lookup, never a
// stale hit.
type RedisAuthCacheStore struct {
	client redis.UniversalClient
	entry  string
	epoch  string
	seen   atomic.Pointer[string] // the epoch the latest Get read

	onCorrupt atomic.Pointer[func(reason string)]
}

// SetOnCorrupt has f hear about each stored value Get could not read
// (oversized, not JSON, another version, another type); Get reports a
// miss. reason is a short label fit for a metric. It may be called at any
// time (each configuration generation sets its own).
func (s *RedisAuthCacheStore) SetOnCorrupt(f func(reason string)) { s.onCorrupt.Store(&f) }

// NewRedisAuthCacheStore returns a store on client under prefix
// (storage.redis.prefix). It does not own client: the caller closes it.
func NewRedisAuthCacheStore(client redis.UniversalClient, prefix string) *RedisAuthCacheStore {
	base := prefix + "{authcache}:"
	return &RedisAuthCacheStore{client: client, entry: base + "e:", epoch: base + "epoch"}
}

// redisCacheValue is what one entry key holds.
type redisCacheValue struct {
	V     int             `json:"v"`
	Epoch string          `json:"epoch"`
	Value json.RawMessage `json:"value"`
}

const redisCacheVersion = 1

// Bounds on what Get reads back: GETRANGE stops a hostile or confused
// Redis from making an instance read megabytes per login.
const (
	maxRedisCacheValue = MaxAuthCacheValue + 256
	maxRedisEpochLen   = 64
)

// Corruption reasons OnCorrupt reports.
const (
	CorruptOversized = "oversized"
	CorruptNotJSON   = "not_json"
	CorruptVersion   = "version"
	CorruptWrongType = "wrong_type"
)

// isTransient tells a Redis that cannot serve now (loading, failing over,
// read-only replica, cluster down) from one that answered about the data.
func isTransient(e redis.Error) bool {
	msg := e.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "NOAUTH", "WRONGPASS", "NOPERM", "MOVED", "ASK"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func (s *RedisAuthCacheStore) key(key []byte) string { return s.entry + hex.EncodeToString(key) }

// Get implements AuthCacheStore: one pipelined round trip.
func (s *RedisAuthCacheStore) Get(ctx context.Context, key []byte) (json.RawMessage, bool, error) {
	if err := checkCacheKey(key); err != nil {
		return nil, false, err
	}
	var epochCmd, entryCmd *redis.StringCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		epochCmd = p.GetRange(ctx, s.epoch, 0, maxRedisEpochLen)
		entryCmd = p.GetRange(ctx, s.key(key), 0, maxRedisCacheValue)
		return nil
	})
	var reply redis.Error
	switch {
	case err == nil || errors.Is(err, redis.Nil):
	case errors.As(err, &reply) && !isTransient(reply):
		// Redis answered, with an error: another program's key of
		// another type (WRONGTYPE). A miss, not an outage.
		s.corrupt(CorruptWrongType)
		return nil, false, nil
	default:
		return nil, false, err
	}
	epoch := epochCmd.Val()
	if len(epoch) > maxRedisEpochLen {
		epoch = epoch[:maxRedisEpochLen] // a Clear will replace it; compare what fits
	}
	if p := s.seen.Load(); p == nil || *p != epoch {
		s.seen.Store(&epoch)
	}
	raw := entryCmd.Val()
	if raw == "" {
		return nil, false, nil
	}
	if len(raw) > maxRedisCacheValue {
		s.corrupt(CorruptOversized)
		return nil, false, nil
	}
	var v redisCacheValue
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		s.corrupt(CorruptNotJSON)
		return nil, false, nil
	}
	if v.V != redisCacheVersion || !isJSONObject(v.Value) {
		s.corrupt(CorruptVersion)
		return nil, false, nil
	}
	if v.Epoch != epoch {
		return nil, false, nil // written before the latest Clear
	}
	return v.Value, true, nil
}

func (s *RedisAuthCacheStore) corrupt(reason string) {
	if f := s.onCorrupt.Load(); f != nil && *f != nil {
		(*f)(reason)
	}
}

// Set implements AuthCacheStore: one SET with the TTL.
func (s *RedisAuthCacheStore) Set(ctx context.Context, key []byte, value json.RawMessage, ttl time.Duration) error {
	if err := checkCacheSet(key, value, ttl); err != nil {
		return err
	}
	var epoch string
	if p := s.seen.Load(); p != nil {
		epoch = *p
	}
	data, err := json.Marshal(redisCacheValue{V: redisCacheVersion, Epoch: epoch, Value: value})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidCacheEntry, err)
	}
	return s.client.Set(ctx, s.key(key), data, ttl).Err()
}

// Delete implements AuthCacheStore.
func (s *RedisAuthCacheStore) Delete(ctx context.Context, key []byte) error {
	if err := checkCacheKey(key); err != nil {
		return err
	}
	return s.client.Del(ctx, s.key(key)).Err()
}

// Clear implements AuthCacheStore: a new epoch voids every entry at once;
// the old entries expire by their TTL.
func (s *RedisAuthCacheStore) Clear(ctx context.Context) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	epoch := hex.EncodeToString(b)
	if err := s.client.Set(ctx, s.epoch, epoch, 0).Err(); err != nil {
		return err
	}
	s.seen.Store(&epoch)
	return nil
}

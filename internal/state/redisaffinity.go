package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisAffinityStore keeps affinity in Redis, shared by every instance on
// the same Redis and prefix. One key per user and protocol:
//
//	<prefix>affinity:<protocol hash>:<user hash>  the backend ID, expiring at its TTL
//
// The user (ASCII case folded) and the protocol are hashed (SHA-256, 128
// bits as hex), so no name a client sent, with control characters or
// braces (a Cluster hash tag), reaches a key, and keys have a fixed length.
// Keys spread over a Cluster's slots: each command names one key.
type RedisAffinityStore struct {
	client redis.UniversalClient
	base   string
	reads  *getBatcher
}

// NewRedisAffinityStore returns a store on client under prefix
// (storage.redis.prefix). It does not own client: the caller closes it.
func NewRedisAffinityStore(client redis.UniversalClient, prefix string) *RedisAffinityStore {
	return &RedisAffinityStore{client: client, base: prefix + "affinity:", reads: newGetBatcher(client)}
}

// key is the Redis key of k.
func (s *RedisAffinityStore) key(k AffinityKey) string {
	var buf [3*16 + 2]byte
	p := sha256.Sum256([]byte(k.Protocol))
	u := sha256.Sum256([]byte(foldASCII(k.User)))
	hex.Encode(buf[:8], p[:4])
	buf[8] = ':'
	hex.Encode(buf[9:41], u[:16])
	return s.base + string(buf[:41])
}

// Key is the Redis key that holds k (for operators and tests).
func (s *RedisAffinityStore) Key(k AffinityKey) string { return s.key(k) }

// Get implements AffinityStore: GETEX with PX when refreshing (read and
// refresh in one round trip), GET otherwise. Concurrent Gets share
// pipelines (getBatcher): still one command and one round trip each.
func (s *RedisAffinityStore) Get(ctx context.Context, k AffinityKey, refresh time.Duration) (string, bool, error) {
	if err := checkAffinityKey(k); err != nil {
		return "", false, err
	}
	if refresh > 0 {
		refresh = max(refresh, time.Millisecond)
	}
	v, err := s.reads.get(ctx, s.key(k), refresh)
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if v == "" || len(v) > MaxIDLen {
		// Not ours (written by another program): treated as no entry,
		// and the next login's Set replaces it.
		return "", false, nil
	}
	return v, true, nil
}

// GetOrSet implements AffinityStore: one script (EVALSHA, see
// getOrSetScript) that refreshes a live entry or stores candidate, sent
// through the same pipelines as Get. A value that is not ours is replaced.
func (s *RedisAffinityStore) GetOrSet(ctx context.Context, k AffinityKey, candidate string, ttl time.Duration, noRefresh []string) (string, bool, error) {
	if err := checkAffinitySet(k, candidate, ttl); err != nil {
		return "", false, err
	}
	v, err := s.reads.getOrSet(ctx, s.key(k), candidate, ttl, noRefresh)
	if errors.Is(err, redis.Nil) {
		return candidate, true, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, false, nil
}

// Set implements AffinityStore: one SET with PX.
func (s *RedisAffinityStore) Set(ctx context.Context, k AffinityKey, backend string, ttl time.Duration) error {
	if err := checkAffinitySet(k, backend, ttl); err != nil {
		return err
	}
	return s.client.Set(ctx, s.key(k), backend, ttl).Err()
}

// Delete implements AffinityStore.
func (s *RedisAffinityStore) Delete(ctx context.Context, k AffinityKey) error {
	if err := checkAffinityKey(k); err != nil {
		return err
	}
	return s.client.Del(ctx, s.key(k)).Err()
}

package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisAdminStore keeps admin entries in Redis, shared by every instance on
// the same Redis and prefix. Layout (all keys share the hash tag {admin},
// so a Redis Cluster keeps them in one slot and MULTI works there too):
//
//	<prefix>{admin}:e:<id>  the entry, JSON (see redisAdminValue); it
//	                        expires at the entry's Until
//	<prefix>{admin}:ids     a set of the IDs written, so List needs no SCAN;
//	                        IDs whose entry has expired are removed lazily
//	<prefix>{admin}:rev     a counter every Set and Delete increments
type RedisAdminStore struct {
	client redis.UniversalClient
	now    func() time.Time // the clock; tests move it with miniredis's
	entry  string           // key prefix of the entries
	ids    string
	rev    string

	// OnCorrupt, when set, hears about each stored entry List or Get
	// could not read (written by another program, or truncated); such
	// entries are skipped. Set it before first use.
	OnCorrupt func(key string, err error)
}

// NewRedisAdminStore returns a store on client under prefix (storage.redis.prefix).
// It does not own client: the caller closes it.
func NewRedisAdminStore(client redis.UniversalClient, prefix string) *RedisAdminStore {
	base := prefix + "{admin}:"
	return &RedisAdminStore{client: client, now: time.Now, entry: base + "e:", ids: base + "ids", rev: base + "rev"}
}

// redisAdminValue is what one entry key holds. ID is repeated so a value
// copied under another key is noticed.
type redisAdminValue struct {
	V      int             `json:"v"`
	ID     string          `json:"id"`
	Until  *time.Time      `json:"until,omitempty"`
	Record json.RawMessage `json:"record"`
}

const redisAdminVersion = 1

// maxRedisAdminValue bounds a value read back: the record, the ID and the
// envelope.
const maxRedisAdminValue = MaxRecordSize + MaxIDLen + 256

// Set implements AdminStore: one MULTI/EXEC round trip.
func (s *RedisAdminStore) Set(ctx context.Context, e AdminEntry) error {
	if err := checkEntry(e); err != nil {
		return err
	}
	if expired(e.Until, s.now()) {
		return s.remove(ctx, e.ID)
	}
	key := s.entry + e.ID
	v := redisAdminValue{V: redisAdminVersion, ID: e.ID, Record: e.Record}
	if !e.Until.IsZero() {
		u := e.Until.UTC()
		v.Until = &u
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: backend %q: %v", ErrInvalid, e.ID, err)
	}
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, data, 0)
		if !e.Until.IsZero() {
			p.PExpireAt(ctx, key, e.Until)
		}
		p.SAdd(ctx, s.ids, e.ID)
		p.Incr(ctx, s.rev)
		return nil
	})
	return redisErr("set admin entry", err)
}

// Delete implements AdminStore.
func (s *RedisAdminStore) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	return s.remove(ctx, id)
}

func (s *RedisAdminStore) remove(ctx context.Context, id string) error {
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.entry+id)
		p.SRem(ctx, s.ids, id)
		p.Incr(ctx, s.rev)
		return nil
	})
	return redisErr("delete admin entry", err)
}

// Get implements AdminStore.
func (s *RedisAdminStore) Get(ctx context.Context, id string) (AdminEntry, bool, error) {
	if err := checkID(id); err != nil {
		return AdminEntry{}, false, err
	}
	data, err := s.client.Get(ctx, s.entry+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return AdminEntry{}, false, nil
	}
	if err != nil {
		return AdminEntry{}, false, redisErr("get admin entry", err)
	}
	e, err := s.decode(id, data)
	if err != nil {
		s.corrupt(s.entry+id, err)
		return AdminEntry{}, false, nil
	}
	return e, !expired(e.Until, s.now()), nil
}

// List implements AdminStore: SMEMBERS, then one MGET.
func (s *RedisAdminStore) List(ctx context.Context) ([]AdminEntry, error) {
	ids, err := s.client.SMembers(ctx, s.ids).Result()
	if err != nil {
		return nil, redisErr("list admin entries", err)
	}
	if len(ids) == 0 {
		return []AdminEntry{}, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.entry + id
	}
	vals, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, redisErr("list admin entries", err)
	}
	now := s.now()
	out := make([]AdminEntry, 0, len(ids))
	var gone []any
	for i, v := range vals {
		str, ok := v.(string)
		if !ok { // expired or deleted since SMEMBERS
			gone = append(gone, ids[i])
			continue
		}
		e, err := s.decode(ids[i], []byte(str))
		if err != nil {
			s.corrupt(keys[i], err)
			continue
		}
		if !expired(e.Until, now) {
			out = append(out, e)
		}
	}
	if len(gone) > 0 {
		// Best effort: a failure leaves the IDs for the next List.
		_ = s.client.SRem(ctx, s.ids, gone...).Err()
	}
	sortByID(out)
	return out, nil
}

// Revision implements AdminStore.
func (s *RedisAdminStore) Revision(ctx context.Context) (uint64, error) {
	n, err := s.client.Get(ctx, s.rev).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, redisErr("read admin revision", err)
}

// decode checks a value read back: another instance, an older backline or
// anyone with access to the Redis may have written it.
func (s *RedisAdminStore) decode(id string, data []byte) (AdminEntry, error) {
	if len(data) > maxRedisAdminValue {
		return AdminEntry{}, fmt.Errorf("value is %d bytes, at most %d", len(data), maxRedisAdminValue)
	}
	var v redisAdminValue
	if err := json.Unmarshal(data, &v); err != nil {
		return AdminEntry{}, fmt.Errorf("value is not JSON: %v", err)
	}
	if v.V != redisAdminVersion {
		return AdminEntry{}, fmt.Errorf("value has version %d, this backline reads %d", v.V, redisAdminVersion)
	}
	if v.ID != id {
		return AdminEntry{}, fmt.Errorf("value names backend %q, not %q", v.ID, id)
	}
	e := AdminEntry{ID: id, Record: v.Record}
	if v.Until != nil {
		e.Until = *v.Until
	}
	if err := checkEntry(e); err != nil {
		return AdminEntry{}, err
	}
	return e, nil
}

func (s *RedisAdminStore) corrupt(key string, err error) {
	if s.OnCorrupt != nil {
		s.OnCorrupt(key, err)
	}
}

// redisErr says what failed; go-redis errors carry no password.
func redisErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redis: %s: %w", what, err)
}

package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisLeaseStore is the LeaseStore shared by every instance on the same
// Redis and prefix. Acquire, Renew, Release and Publish are one script
// each, so checking the lease and acting on it is atomic; Fetch is one
// pipelined round trip for all IDs.
//
// Layout per backend ID; the hash tag keeps an ID's keys in one Cluster
// slot (IDs that are long or hold braces are hashed):
//
//	<prefix>{lease:<id>}:l  the lease, "<token>:<owner>", expiring with it
//	<prefix>{lease:<id>}:f  the fencing counter (INCR; never expires, so
//	                        tokens only grow)
//	<prefix>{lease:<id>}:s  the publish sequence (INCR; never expires)
//	<prefix>{lease:<id>}:r  the last PublishedKept results, newest first,
//	                        "<seq>:<token>:<sec>:<µs>:<data>", expiring keep
//	                        after the last publish
//
// Publish stamps results with Redis's TIME and Fetch reads TIME in the
// same pipeline, so ages never depend on an instance's clock.
type RedisLeaseStore struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisLeaseStore returns a store on client under prefix; it does not
// own client.
func NewRedisLeaseStore(client redis.UniversalClient, prefix string) *RedisLeaseStore {
	return &RedisLeaseStore{client: client, prefix: prefix}
}

func (s *RedisLeaseStore) base(id string) string {
	return s.prefix + "{lease:" + keyPart(id) + "}:"
}

// keyPart is id as it goes into a key's hash tag: as it is when short and
// printable without braces, else hashed.
func keyPart(id string) string {
	readable := len(id) <= maxKeyPart
	for i := 0; readable && i < len(id); i++ {
		if b := id[i]; b < 0x21 || b > 0x7e || b == '{' || b == '}' {
			readable = false
		}
	}
	if !readable {
		sum := sha256.Sum256([]byte(id))
		return "#" + hex.EncodeToString(sum[:16])
	}
	return id
}

// leaseAcquireScript: KEYS lease, fence; ARGV owner, ttl (ms).
// Returns {1|0, token}.
var leaseAcquireScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, ':', 1, true)
  local tok = string.sub(cur, 1, sep - 1)
  if string.sub(cur, sep + 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tok}
  end
  return {0, tok}
end
local tok = tostring(redis.call('INCR', KEYS[2]))
redis.call('SET', KEYS[1], tok .. ':' .. ARGV[1], 'PX', ARGV[2])
return {1, tok}
`)

// leaseRenewScript: KEYS lease; ARGV "<token>:<owner>", ttl (ms), and 1
// to renew or 0 to release. Returns 1 when the lease was that one.
var leaseRenewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '1' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
`)

// leasePublishScript: KEYS lease, results, seq; ARGV token, data, keep
// (ms), kept. Returns the new seq, or 0 when token is not the lease's.
var leasePublishScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local sep = string.find(cur, ':', 1, true)
if string.sub(cur, 1, sep - 1) ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local seq = redis.call('INCR', KEYS[3])
redis.call('LPUSH', KEYS[2], tostring(seq) .. ':' .. ARGV[1] .. ':' .. t[1] .. ':' .. t[2] .. ':' .. ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return seq
`)

func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Acquire implements LeaseStore.
func (s *RedisLeaseStore) Acquire(ctx context.Context, id, owner string, ttl time.Duration) (uint64, bool, error) {
	if err := checkLease(id, owner, ttl); err != nil {
		return 0, false, err
	}
	b := s.base(id)
	res, err := leaseAcquireScript.Run(ctx, s.client, []string{b + "l", b + "f"}, owner, ms(ttl)).Slice()
	if err != nil {
		return 0, false, fmt.Errorf("redis lease store: %w", err)
	}
	return parseAcquired(id, res)
}

func parseAcquired(id string, res []any) (uint64, bool, error) {
	if len(res) != 2 {
		return 0, false, fmt.Errorf("redis lease store: unexpected answer to acquire")
	}
	got, _ := res[0].(int64)
	tokText, _ := res[1].(string)
	tok, err := strconv.ParseUint(tokText, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("redis lease store: lease of %q holds no token", id)
	}
	return tok, got == 1, nil
}

// AcquireAll implements LeaseStore: one pipeline of EVALSHA; when Redis
// lost its scripts (a restart, a failover), it loads the script and sends
// the pipeline once more.
func (s *RedisLeaseStore) AcquireAll(ctx context.Context, ids []string, owner string, ttl time.Duration) (map[string]uint64, error) {
	for _, id := range ids {
		if err := checkLease(id, owner, ttl); err != nil {
			return nil, err
		}
	}
	held := make(map[string]uint64, len(ids))
	if len(ids) == 0 {
		return held, nil
	}
	for attempt := 0; ; attempt++ {
		pipe := s.client.Pipeline()
		cmds := make([]*redis.Cmd, len(ids))
		for i, id := range ids {
			b := s.base(id)
			cmds[i] = leaseAcquireScript.EvalSha(ctx, pipe, []string{b + "l", b + "f"}, owner, ms(ttl))
		}
		_, err := pipe.Exec(ctx)
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") && attempt == 0 {
			if err := leaseAcquireScript.Load(ctx, s.client).Err(); err != nil {
				return nil, fmt.Errorf("redis lease store: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("redis lease store: %w", err)
		}
		for i, id := range ids {
			res, err := cmds[i].Slice()
			if err != nil {
				return nil, fmt.Errorf("redis lease store: %w", err)
			}
			tok, ok, err := parseAcquired(id, res)
			if err != nil {
				return nil, err
			}
			if ok {
				held[id] = tok
			}
		}
		return held, nil
	}
}

// Renew implements LeaseStore.
func (s *RedisLeaseStore) Renew(ctx context.Context, id, owner string, token uint64, ttl time.Duration) (bool, error) {
	if err := checkLease(id, owner, ttl); err != nil {
		return false, err
	}
	return s.renewOrRelease(ctx, id, owner, token, ms(ttl), "1")
}

// Release implements LeaseStore.
func (s *RedisLeaseStore) Release(ctx context.Context, id, owner string, token uint64) error {
	if err := checkLease(id, owner, time.Second); err != nil {
		return err
	}
	_, err := s.renewOrRelease(ctx, id, owner, token, 0, "0")
	return err
}

func (s *RedisLeaseStore) renewOrRelease(ctx context.Context, id, owner string, token uint64, ttlMS int64, renew string) (bool, error) {
	held := strconv.FormatUint(token, 10) + ":" + owner
	n, err := leaseRenewScript.Run(ctx, s.client, []string{s.base(id) + "l"}, held, ttlMS, renew).Int64()
	if err != nil {
		return false, fmt.Errorf("redis lease store: %w", err)
	}
	return n == 1, nil
}

// Publish implements LeaseStore.
func (s *RedisLeaseStore) Publish(ctx context.Context, id string, token uint64, data []byte, keep time.Duration) (uint64, bool, error) {
	if err := checkPublish(id, data, keep); err != nil {
		return 0, false, err
	}
	b := s.base(id)
	seq, err := leasePublishScript.Run(ctx, s.client, []string{b + "l", b + "r", b + "s"},
		strconv.FormatUint(token, 10), data, ms(keep), PublishedKept).Int64()
	if err != nil {
		return 0, false, fmt.Errorf("redis lease store: %w", err)
	}
	if seq <= 0 {
		return 0, false, nil
	}
	return uint64(seq), true, nil
}

// PublishAll implements LeaseStore: one pipeline of EVALSHA. Items Redis
// refused with NOSCRIPT (it lost its scripts) did not run; they are sent
// once more after loading the script, the others never twice.
func (s *RedisLeaseStore) PublishAll(ctx context.Context, items []PublishItem, keep time.Duration) ([]uint64, error) {
	for _, it := range items {
		if err := checkPublish(it.ID, it.Data, keep); err != nil {
			return nil, err
		}
	}
	seqs := make([]uint64, len(items))
	todo := make([]int, len(items))
	for i := range items {
		todo[i] = i
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		pipe := s.client.Pipeline()
		cmds := make([]*redis.Cmd, len(todo))
		for k, i := range todo {
			it, b := items[i], s.base(items[i].ID)
			cmds[k] = leasePublishScript.EvalSha(ctx, pipe, []string{b + "l", b + "r", b + "s"},
				strconv.FormatUint(it.Token, 10), it.Data, ms(keep), PublishedKept)
		}
		_, _ = pipe.Exec(ctx) // per command below
		var again []int
		var firstErr error
		for k, i := range todo {
			seq, err := cmds[k].Int64()
			switch {
			case err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") && attempt == 0:
				again = append(again, i)
			case err != nil:
				if firstErr == nil {
					firstErr = fmt.Errorf("redis lease store: %w", err)
				}
			case seq > 0:
				seqs[i] = uint64(seq)
			}
		}
		if firstErr != nil {
			return seqs, firstErr
		}
		if len(again) > 0 {
			if err := leasePublishScript.Load(ctx, s.client).Err(); err != nil {
				return seqs, fmt.Errorf("redis lease store: %w", err)
			}
		}
		todo = again
	}
	return seqs, nil
}

// Fetch implements LeaseStore. Entries another writer left unreadable
// are skipped.
func (s *RedisLeaseStore) Fetch(ctx context.Context, ids []string, maxAge time.Duration) (map[string][]Published, error) {
	out := map[string][]Published{}
	if len(ids) == 0 {
		return out, nil
	}
	pipe := s.client.Pipeline()
	now := pipe.Time(ctx)
	lists := make([]*redis.StringSliceCmd, len(ids))
	for i, id := range ids {
		lists[i] = pipe.LRange(ctx, s.base(id)+"r", 0, PublishedKept-1)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("redis lease store: %w", err)
	}
	serverNow, err := now.Result()
	if err != nil {
		return nil, fmt.Errorf("redis lease store: %w", err)
	}
	for i, id := range ids {
		entries, err := lists[i].Result()
		if err != nil {
			return nil, fmt.Errorf("redis lease store: %w", err)
		}
		for j := len(entries) - 1; j >= 0; j-- { // stored newest first
			p, at, ok := parsePublished(entries[j])
			if !ok {
				continue
			}
			p.Age = max(serverNow.Sub(at), 0)
			if p.Age <= maxAge {
				out[id] = append(out[id], p)
			}
		}
	}
	return out, nil
}

// parsePublished reads "<seq>:<token>:<sec>:<µs>:<data>".
func parsePublished(v string) (Published, time.Time, bool) {
	f := strings.SplitN(v, ":", 5)
	if len(f) != 5 {
		return Published{}, time.Time{}, false
	}
	seq, err1 := strconv.ParseUint(f[0], 10, 64)
	tok, err2 := strconv.ParseUint(f[1], 10, 64)
	sec, err3 := strconv.ParseInt(f[2], 10, 64)
	usec, err4 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || seq == 0 || len(f[4]) > MaxPublishedSize {
		return Published{}, time.Time{}, false
	}
	return Published{Seq: seq, Token: tok, Data: []byte(f[4])}, time.Unix(sec, usec*1000), true
}

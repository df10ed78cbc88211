package state

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisUptimeStore is the UptimeStore shared by every instance on the same
// Redis and prefix. Layout per backend ID (the hash tag keeps one
// backend's keys in one Cluster slot; IDs that are long or hold braces are
// hashed, as for leases):
//
//	<prefix>{uptime:<id>}:m:<Unix hour>  a hash: minute of the hour (0-59)
//	                                     -> "<up ms>:<down ms>"
//	<prefix>{uptime:<id>}:h:<Unix day>   a hash: hour of the day (0-23)
//	                                     -> "<up ms>:<down ms>"
//
// Each key expires when the last bucket it can hold is past retention
// (UptimeMinutesKept, UptimeHoursKept), so a backend that is no longer
// saved, removed from the configuration or renamed, leaves nothing behind
// 8 days and 1 hour after its last save; at most 3 minute hashes of 60 fields and 9 hour hashes of
// 24 fields exist per backend. Save is one script per bucket, pipelined:
// it keeps the stored value unless the new one has more checked time, so
// instances never add to each other's counts. Load is one pipelined
// HMGET per hash, of the fields a hash can hold only, so a hash another
// program filled with junk fields costs nothing to read.
type RedisUptimeStore struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time // the clock; tests move it with miniredis's

	// OnCorrupt, when set, hears about each key Save or Load could not use
	// (not a hash, an unreadable value, a value over the reply limit); that
	// key's buckets are skipped. Set it before first use.
	OnCorrupt func(key string, err error)
}

// NewRedisUptimeStore returns a store on client under prefix; it does not
// own client.
func NewRedisUptimeStore(client redis.UniversalClient, prefix string) *RedisUptimeStore {
	return &RedisUptimeStore{client: client, prefix: prefix, now: time.Now}
}

// uptimeSaveScript: KEYS hash; ARGV field, up ms, down ms, expire at (Unix
// ms), span ms. Returns 1 when it stored the value, 0 when the stored one
// has as much checked time or more, -1 when the key is not a hash
// (another program's; left alone). A stored value that is not a pair of
// numbers fitting the span is overwritten: it cannot be compared (a Lua
// whose tonumber gives nil for digits past its range counts as such). The
// expiry is set either way: it is the hash's own, whoever wrote its
// values, and a hash that lost its TTL must not outlive retention.
var uptimeSaveScript = redis.NewScript(`
local t = redis.call('TYPE', KEYS[1])
if type(t) == 'table' then t = t.ok end
if t ~= 'hash' and t ~= 'none' then return -1 end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local new = tonumber(ARGV[2]) + tonumber(ARGV[3])
if cur and string.len(cur) <= 32 then
  local u, d = string.match(cur, '^(%d+):(%d+)$')
  u, d = tonumber(u), tonumber(d)
  if u and d then
    local had = u + d
    if had <= tonumber(ARGV[5]) and had >= new then
      redis.call('PEXPIREAT', KEYS[1], ARGV[4])
      return 0
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
`)

// uptimeKey is the hash holding b, the field within it, and when the hash
// expires (its last bucket's retention).
func (s *RedisUptimeStore) uptimeKey(id string, b UptimeBucket) (key, field string, expireAt time.Time) {
	base := s.prefix + "{uptime:" + keyPart(id) + "}:"
	unix := b.Start.Unix()
	if b.Span == time.Minute {
		hour := unix / 3600
		last := time.Unix(hour*3600+59*60, 0)
		return base + "m:" + strconv.FormatInt(hour, 10), strconv.FormatInt(unix%3600/60, 10), last.Add(UptimeMinutesKept)
	}
	day := unix / 86400
	last := time.Unix(day*86400+23*3600, 0)
	return base + "h:" + strconv.FormatInt(day, 10), strconv.FormatInt(unix%86400/3600, 10), last.Add(UptimeHoursKept)
}

// uptimeSavePipeline caps the script calls of one pipeline: a save after
// an hour without Redis at 10,000 backends is over 600,000 of them, and
// one write of all of them ran into the client's write timeout on the
// fixture (TestReviewRedisUptimeBigSave); in pipelines of this size each
// round trip stays small and the calls before a failure are kept.
const uptimeSavePipeline = 1000

// uptimeCall is one bucket's script call of a Save.
type uptimeCall struct {
	key, field       string
	up, down, expire int64
	span             int64
}

// Save implements UptimeStore: pipelines of EVALSHA, uptimeSavePipeline
// calls each; when Redis lost its scripts (a restart, a failover), it
// loads the script and sends that pipeline once more (the script is
// idempotent).
func (s *RedisUptimeStore) Save(ctx context.Context, records []UptimeRecord) error {
	if err := checkUptimeRecords(records); err != nil {
		return err
	}
	now := s.now()
	calls := make([]uptimeCall, 0, min(uptimeSavePipeline, len(records)*4))
	for _, r := range records {
		for _, b := range r.Buckets {
			if !uptimeLive(b, now) {
				continue
			}
			key, field, expireAt := s.uptimeKey(r.ID, b)
			calls = append(calls, uptimeCall{key, field, b.Up.Milliseconds(), b.Down.Milliseconds(), expireAt.UnixMilli(), b.Span.Milliseconds()})
			if len(calls) == uptimeSavePipeline {
				if err := s.saveCalls(ctx, calls); err != nil {
					return err
				}
				calls = calls[:0]
			}
		}
	}
	return s.saveCalls(ctx, calls)
}

// saveCalls sends one pipeline of script calls.
func (s *RedisUptimeStore) saveCalls(ctx context.Context, calls []uptimeCall) error {
	if len(calls) == 0 {
		return nil
	}
	cmds := make([]*redis.Cmd, len(calls))
	for attempt := 0; ; attempt++ {
		pipe := s.client.Pipeline()
		for i, c := range calls {
			cmds[i] = uptimeSaveScript.EvalSha(ctx, pipe, []string{c.key}, c.field, c.up, c.down, c.expire, c.span)
		}
		_, err := pipe.Exec(ctx)
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") && attempt == 0 {
			if err := uptimeSaveScript.Load(ctx, s.client).Err(); err != nil {
				return fmt.Errorf("redis uptime store: %w", err)
			}
			continue
		}
		for i, cmd := range cmds {
			n, err := cmd.Int()
			if err != nil && !s.corruptKey(calls[i].key, err) {
				return fmt.Errorf("redis uptime store: %w", err)
			}
			if n < 0 {
				s.corrupt(calls[i].key, errNotAHash)
			}
		}
		return nil
	}
}

// corruptKey reports (and tells OnCorrupt) an error that is about one
// key's data rather than the store: the key is not a hash, or its reply
// went over the client's reply limit (ReplyGuard).
func (s *RedisUptimeStore) corruptKey(key string, err error) bool {
	if !redis.HasErrorPrefix(err, "WRONGTYPE") && !redis.HasErrorPrefix(err, ReplyTooLargePrefix) {
		return false
	}
	s.corrupt(key, err)
	return true
}

func (s *RedisUptimeStore) corrupt(key string, err error) {
	if s.OnCorrupt != nil {
		s.OnCorrupt(key, err)
	}
}

var errNotAHash = fmt.Errorf("%w: key is not a hash", ErrCorruptUptime)

// uptimeFields are the fields a hash of span can hold, as HMGET asks for
// them.
var (
	minuteFields = numberFields(60)
	hourFields   = numberFields(24)
)

func numberFields(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// Load implements UptimeStore: one pipelined HMGET per hash that can hold
// live buckets.
func (s *RedisUptimeStore) Load(ctx context.Context, ids []string) (map[string][]UptimeBucket, error) {
	out := map[string][]UptimeBucket{}
	if len(ids) == 0 {
		return out, nil
	}
	for _, id := range ids {
		if err := checkID(id); err != nil {
			return nil, err
		}
	}
	now := s.now()
	type asked struct {
		id    string
		key   string
		first time.Time // the hash's first bucket
		span  time.Duration
		cmd   *redis.SliceCmd
	}
	var cmds []asked
	pipe := s.client.Pipeline()
	ask := func(id string, span, hashSpan time.Duration, kept time.Duration, fields []string) {
		from := now.Add(-kept).Truncate(hashSpan)
		for first := from; !first.After(now); first = first.Add(hashSpan) {
			key, _, _ := s.uptimeKey(id, UptimeBucket{Start: first, Span: span})
			cmds = append(cmds, asked{id, key, first, span, pipe.HMGet(ctx, key, fields...)})
		}
	}
	for _, id := range ids {
		ask(id, time.Minute, time.Hour, UptimeMinutesKept, minuteFields)
		ask(id, time.Hour, 24*time.Hour, UptimeHoursKept, hourFields)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isKeyDataError(err) {
		return nil, fmt.Errorf("redis uptime store: %w", err)
	}
	for _, a := range cmds {
		vals, err := a.cmd.Result()
		if err != nil {
			if s.corruptKey(a.key, err) {
				continue
			}
			return nil, fmt.Errorf("redis uptime store: %w", err)
		}
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // no such field
			}
			up, down, err := parseUptimeValue(str, a.span)
			if err != nil {
				s.corrupt(a.key+" field "+strconv.Itoa(i), err)
				continue
			}
			b := UptimeBucket{Start: a.first.Add(time.Duration(i) * a.span).UTC(), Span: a.span, Up: up, Down: down}
			if b.Checked() > 0 && uptimeLive(b, now) {
				out[a.id] = append(out[a.id], b)
			}
		}
	}
	return out, nil
}

// isKeyDataError is a pipeline's first error when it is about one key's
// data (handled per command), not the connection.
func isKeyDataError(err error) bool {
	return redis.HasErrorPrefix(err, "WRONGTYPE") || redis.HasErrorPrefix(err, ReplyTooLargePrefix)
}

package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisRateCounter counts request starts in Redis, shared by every
// instance on the same Redis and prefix. One Take is one EVALSHA of
// rateScript (EVAL once after a Redis restart), so checking and recording
// every rule of a backend is atomic and costs one round trip.
//
// Layout, one key per rule; the hash tag keeps a key's rules in one
// Cluster slot:
//
//	<prefix>{rl:<key>}:f:<period>  fixed window: hash s (start, µs), c (count)
//	<prefix>{rl:<key>}:s:<period>  sliding window: sorted set of the last
//	                                   per_period starts, scored by time (µs)
//
// The script reads the time from Redis (TIME), so instances whose clocks
// disagree count in the same windows. Keys expire a second after they can
// matter (period + 1 s) and a sliding set never holds more than per_period
// members: memory per key is bounded by the configuration.
type RedisRateCounter struct {
	client redis.UniversalClient
	prefix string
	seq    atomic.Uint64
	id     string // this counter's member prefix, so members never collide
}

// NewRedisRateCounter returns a counter on client under prefix
// (storage.redis.prefix). It does not own client.
func NewRedisRateCounter(client redis.UniversalClient, prefix string) *RedisRateCounter {
	return &RedisRateCounter{client: client, prefix: prefix, id: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// maxKeyPart is the longest key kept readable in a Redis key name; longer
// ones (or ones with braces, which would cut the hash tag) are hashed.
const maxKeyPart = 128

// rateKeyBase returns the common start of key's Redis keys.
func (c *RedisRateCounter) rateKeyBase(key string) string {
	readable := len(key) <= maxKeyPart
	for i := 0; readable && i < len(key); i++ {
		if b := key[i]; b < 0x21 || b > 0x7e || b == '{' || b == '}' {
			readable = false
		}
	}
	if !readable {
		sum := sha256.Sum256([]byte(key))
		key = "#" + hex.EncodeToString(sum[:16])
	}
	return c.prefix + "{rl:" + key + "}:"
}

// rateScript: KEYS[i] is rule i's key; ARGV[1] a member unique to this
// call; then per rule: period (µs), per_period, 1 for sliding. Returns
// {exhausted bit set, retry after (µs)}; nothing is recorded unless every
// rule has room.
var rateScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local mask, bit, wait = 0, 1, 0
local fresh = {}
for i = 1, #KEYS do
  local period = tonumber(ARGV[3*i-1])
  local per = tonumber(ARGV[3*i])
  local due = nil
  if ARGV[3*i+1] == '1' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - period)
    redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(per + 1))
    if redis.call('ZCARD', KEYS[i]) >= per then
      local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
      due = tonumber(oldest[2]) + period
    end
  else
    local h = redis.call('HMGET', KEYS[i], 's', 'c')
    local s, c = tonumber(h[1]), tonumber(h[2])
    if s == nil or c == nil or now >= s + period then
      fresh[i] = true
    elseif c >= per then
      due = s + period
    end
  end
  if due ~= nil then
    local w = math.min(math.max(due - now, 0), period)
    if w > 0 then
      mask = mask + bit
      if w > wait then wait = w end
    end
  end
  bit = bit * 2
end
if mask == 0 then
  for i = 1, #KEYS do
    local ttl = math.floor(ARGV[3*i-1] / 1000) + 1000
    if ARGV[3*i+1] == '1' then
      redis.call('ZADD', KEYS[i], now, ARGV[1])
    elseif fresh[i] then
      redis.call('HSET', KEYS[i], 's', now, 'c', 1)
    else
      redis.call('HINCRBY', KEYS[i], 'c', 1)
    end
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return {mask, wait}
`)

// Take implements RateCounter; now is unused (Redis's clock counts).
func (c *RedisRateCounter) Take(ctx context.Context, key string, rules []RateRule, _ time.Time) (RateDecision, error) {
	if err := checkRules(rules); err != nil {
		return RateDecision{}, err
	}
	base := c.rateKeyBase(key)
	keys := make([]string, len(rules))
	args := make([]any, 0, 1+3*len(rules))
	args = append(args, c.id+"."+strconv.FormatUint(c.seq.Add(1), 36))
	for i, r := range rules {
		kind := "f:"
		if r.Sliding {
			kind = "s:"
		}
		keys[i] = base + kind + r.Period.String()
		sliding := 0
		if r.Sliding {
			sliding = 1
		}
		args = append(args, r.Period.Microseconds(), r.PerPeriod, sliding)
	}
	res, err := rateScript.Run(ctx, c.client, keys, args...).Int64Slice()
	if err != nil {
		return RateDecision{}, fmt.Errorf("redis rate counter: %w", err)
	}
	if len(res) != 2 || res[0] < 0 || res[1] < 0 {
		return RateDecision{}, fmt.Errorf("redis rate counter: unexpected answer %v", res)
	}
	d := RateDecision{Exhausted: uint64(res[0]), RetryAfter: time.Duration(res[1]) * time.Microsecond}
	d.Allowed = d.Exhausted == 0
	if d.Allowed {
		d.RetryAfter = 0
	}
	return d, nil
}

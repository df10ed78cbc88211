-- nauthilus_redis corpus §5 items 1, 2 and 6, plus every string, key,
-- hash and set wrapper. {{P}} is a key prefix of the test's own.
local redis = require("nauthilus_redis")
local P = "{{P}}"

local function eq(got, want, what)
  if got ~= want then
    error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 0)
  end
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

function nauthilus_call_filter(request)
  local h = "default"

  -- 1. GET: missing key, empty value, typed value.
  local v, err = redis.redis_get(h, P .. "missing")
  eq(v, nil, "get missing value"); eq(err, "redis: nil", "get missing err")
  eq(redis.redis_set(h, P .. "empty", ""), "OK", "set empty")
  v, err = redis.redis_get(h, P .. "empty")
  eq(v, nil, "get empty value"); eq(err, nil, "get empty err")
  redis.redis_set(h, P .. "n", 42)
  eq(redis.redis_get(h, P .. "n", "number"), 42, "typed number")
  eq(redis.redis_get(h, P .. "n"), "42", "untyped")
  eq(redis.redis_get(h, P .. "n", "nil"), nil, "typed nil")
  redis.redis_set(h, P .. "b", true)
  eq(redis.redis_get(h, P .. "b", "boolean"), true, "typed boolean")
  eq(redis.redis_get(h, P .. "b"), "1", "true is stored as 1")
  redis.redis_set(h, P .. "f", 1.5)
  eq(redis.redis_get(h, P .. "f"), "1.5", "1.5 is stored in short form")

  -- 2. SET: TTL, NX, GET, a negative TTL, a table value.
  eq(redis.redis_set(h, P .. "ttl", "x", 60), "OK", "set with ttl")
  v, err = redis.redis_set(h, P .. "ttl", "y", {nx = true})
  eq(v, nil, "nx on existing value"); eq(err, nil, "nx on existing err")
  eq(redis.redis_get(h, P .. "ttl"), "x", "nx left the value")
  eq(redis.redis_set(h, P .. "ttl", "z", {get = true, keepttl = true}), "x", "get returns the old value")
  eq(redis.redis_get(h, P .. "ttl"), "z", "set with get wrote")
  v, err = redis.redis_set(h, P .. "neg", "x", -1)
  eq(v, nil, "negative ttl value"); eq(err, "expiration seconds must be >= 0", "negative ttl err")
  v, err = redis.redis_set(h, P .. "tbl", {1})
  eq(v, nil, "table value"); eq(type(err), "string", "table value err")
  eq(redis.redis_set(h, P .. "px", "v", {px = 60000, xx = false}), "OK", "px option")
  v, err = redis.redis_set(h, P .. "xx-missing", "v", {xx = true})
  eq(v, nil, "xx on missing"); eq(err, nil, "xx on missing err")

  -- Keys.
  eq(redis.redis_incr(h, P .. "counter"), 1, "incr")
  eq(redis.redis_incr(h, P .. "counter"), 2, "incr again")
  eq(redis.redis_exists(h, P .. "counter"), 1, "exists")
  eq(redis.redis_expire(h, P .. "counter", 100), true, "expire existing")
  eq(redis.redis_expire(h, P .. "nothing", 100), false, "expire missing")
  eq(redis.redis_rename(h, P .. "counter", P .. "renamed"), "OK", "rename")
  v, err = redis.redis_rename(h, P .. "nothing", P .. "x")
  eq(v, nil, "rename missing"); eq(type(err), "string", "rename missing err")
  eq(redis.redis_del(h, P .. "renamed"), 1, "del is a number")
  eq(redis.redis_del(h, P .. "renamed"), 0, "del again")
  eq(redis.redis_mset(h, P .. "m1", "a", P .. "m2", "b"), "OK", "mset variadic")
  eq(redis.redis_mset(h, {[P .. "m3"] = "c"}), "OK", "mset table")
  eq(redis.redis_mset(h, {}), "OK", "mset empty")
  v, err = redis.redis_mset(h, P .. "m1", "a", P .. "m2")
  eq(err, "invalid number of arguments", "mset odd")
  local m = redis.redis_mget(h, P .. "m1", P .. "nope", P .. "m3")
  eq(m[P .. "m1"], "a", "mget m1"); eq(m[P .. "m3"], "c", "mget m3")
  eq(m[P .. "nope"], nil, "mget missing is absent"); eq(count(m), 2, "mget size")
  eq(count(redis.redis_mget(h, {P .. "m2"})), 1, "mget table form")
  eq(count(redis.redis_mget(h)), 0, "mget without keys")
  local keys = redis.redis_keys(h, P .. "m*")
  eq(#keys, 3, "keys")
  local seen, cursor = 0, 0
  repeat
    local page = redis.redis_scan(h, cursor, P .. "m*", 100)
    seen = seen + #page.keys
    cursor = page.cursor
  until cursor == 0
  eq(seen, 3, "scan")

  -- Hashes (6: hexists boolean, hgetall of a missing key).
  eq(redis.redis_hset(h, P .. "h", "f1", "v1"), 1, "hset")
  eq(redis.redis_hset(h, P .. "h", "f1", "v1b", "f2", 2), 1, "hset pairs")
  eq(redis.redis_hset(h, P .. "h", {f3 = "v3"}), 1, "hset table")
  v, err = redis.redis_hset(h, P .. "h", "f1")
  eq(err, "invalid number of arguments", "hset odd")
  eq(redis.redis_hget(h, P .. "h", "f1"), "v1b", "hget")
  eq(redis.redis_hget(h, P .. "h", "f2", "number"), 2, "hget typed")
  v, err = redis.redis_hget(h, P .. "h", "none")
  eq(v, nil, "hget missing"); eq(err, "redis: nil", "hget missing err")
  local hm = redis.redis_hmget(h, P .. "h", "f1", "none", "f3")
  eq(hm.f1, "v1b", "hmget f1"); eq(hm.none, nil, "hmget missing"); eq(hm.f3, "v3", "hmget f3")
  eq(redis.redis_hmget(h, P .. "h", {"f2"}).f2, "2", "hmget table")
  eq(redis.redis_hlen(h, P .. "h"), 3, "hlen")
  eq(redis.redis_hexists(h, P .. "h", "f1"), true, "hexists")
  eq(redis.redis_hexists(h, P .. "h", "none"), false, "hexists missing")
  eq(redis.redis_hincrby(h, P .. "h", "f2", 3), 5, "hincrby")
  eq(redis.redis_hincrbyfloat(h, P .. "h", "f2", 0.5), 5.5, "hincrbyfloat is a number")
  local all = redis.redis_hgetall(h, P .. "h")
  eq(all.f3, "v3", "hgetall"); eq(count(all), 3, "hgetall size")
  eq(count(redis.redis_hgetall(h, P .. "missing-hash")), 0, "hgetall missing is {}")
  eq(redis.redis_hdel(h, P .. "h", "f1", "f3"), 2, "hdel")
  eq(redis.redis_hdel(h, P .. "h", {"f2"}), 1, "hdel table")
  eq(redis.redis_hdel(h, P .. "h"), 0, "hdel without fields")

  -- Sets (6: sismember boolean).
  eq(redis.redis_sadd(h, P .. "s", "a", "b"), 2, "sadd")
  eq(redis.redis_sadd(h, P .. "s", {"b", "c"}), 1, "sadd table")
  eq(redis.redis_sismember(h, P .. "s", "a"), true, "sismember")
  eq(redis.redis_sismember(h, P .. "s", "z"), false, "sismember missing")
  eq(#redis.redis_smembers(h, P .. "s"), 3, "smembers")
  eq(redis.redis_scard(h, P .. "s"), 3, "scard")
  eq(redis.redis_srem(h, P .. "s", "a", "z"), 1, "srem")

  eq(redis.redis_ping(h), "PONG", "ping")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

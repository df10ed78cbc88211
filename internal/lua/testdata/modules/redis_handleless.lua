-- nauthilus_redis without the handle (the v1.3-1.5 form): every command
-- wrapper runs the same sequence four ways, each in a keyspace of its own,
-- and must answer the same: handle "default", a handle from
-- get_redis_connection, a registered pool's name, and no handle at all.
-- {{P}} is a key prefix of the test's own.
local redis = require("nauthilus_redis")
local P = "{{P}}"

local function eq(got, want, what)
  if got ~= want then
    error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 0)
  end
end

-- ser is a value as comparable text: tables with their keys sorted.
local function ser(v)
  if type(v) ~= "table" then
    return type(v) .. ":" .. tostring(v)
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = tostring(k) .. "=" .. ser(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end

local function sorted(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  return c
end

local script = "return redis.call('INCRBY', KEYS[1], ARGV[1])"

-- steps: each calls one wrapper (call(name, args...)) on keys under K.
local steps = {
  function(call, K) return call("redis_ping") end,
  function(call, K) return call("redis_set", K .. "s", "v1") end,
  function(call, K) return call("redis_set", K .. "t", "v2", 60) end,
  function(call, K) return call("redis_get", K .. "s") end,
  function(call, K) return call("redis_get", K .. "missing") end,
  function(call, K) return call("redis_incr", K .. "n") end,
  function(call, K) return call("redis_get", K .. "n", "number") end,
  function(call, K) return call("redis_rename", K .. "n", K .. "n2") end,
  function(call, K) return call("redis_expire", K .. "n2", 3600) end,
  function(call, K) return call("redis_expire", K .. "missing", 3600) end,
  function(call, K) return call("redis_exists", K .. "n2") end,
  function(call, K) return call("redis_del", K .. "n2") end,
  function(call, K) return call("redis_mset", K .. "m1", "a", K .. "m2", "b") end,
  function(call, K) return call("redis_mget", K .. "m1", K .. "m2", K .. "missing") end,
  function(call, K) return sorted((call("redis_keys", K .. "m*"))) end,
  function(call, K)
    local r, err = call("redis_scan", 0, K .. "m*", 1000)
    if r then r.keys = sorted(r.keys) end
    return r, err
  end,
  function(call, K) return call("redis_hset", K .. "h", "f1", "1", "f2", "x") end,
  function(call, K) return call("redis_hget", K .. "h", "f1") end,
  function(call, K) return call("redis_hget", K .. "h", "f1", "number") end,
  function(call, K) return call("redis_hget", K .. "h", "nope") end,
  function(call, K) return call("redis_hmget", K .. "h", "f1", "f2", "nope") end,
  function(call, K) return call("redis_hlen", K .. "h") end,
  function(call, K) return call("redis_hgetall", K .. "h") end,
  function(call, K) return call("redis_hincrby", K .. "h", "f1", 5) end,
  function(call, K) return call("redis_hincrbyfloat", K .. "h", "f1", 0.5) end,
  function(call, K) return call("redis_hexists", K .. "h", "f2") end,
  function(call, K) return call("redis_hdel", K .. "h", "f2") end,
  function(call, K) return call("redis_hget", K .. "s", "f") end, -- WRONGTYPE
  function(call, K) return call("redis_sadd", K .. "set", "a", "b", "c") end,
  function(call, K) return call("redis_sismember", K .. "set", "b") end,
  function(call, K) return call("redis_srem", K .. "set", "c") end,
  function(call, K) return sorted((call("redis_smembers", K .. "set"))) end,
  function(call, K) return call("redis_scard", K .. "set") end,
  function(call, K) return call("redis_zadd", K .. "z", {a = 1, b = 2, c = 3, d = 4}) end,
  function(call, K) return call("redis_zrem", K .. "z", "d") end,
  function(call, K) return call("redis_zrange", K .. "z", 0, -1) end,
  function(call, K) return call("redis_zrevrange", K .. "z", 0, -1) end,
  function(call, K) return call("redis_zrevrange_withscores", K .. "z", 0, -1) end,
  function(call, K) return call("redis_zrangebyscore", K .. "z", "-inf", "+inf", {offset = 0, count = 2}) end,
  function(call, K) return call("redis_zcount", K .. "z", "1", "2") end,
  function(call, K) return call("redis_zrank", K .. "z", "b") end,
  function(call, K) return call("redis_zrevrank", K .. "z", "b") end,
  function(call, K) return call("redis_zscore", K .. "z", "c") end,
  function(call, K) return call("redis_zincrby", K .. "z", 2, "a") end,
  function(call, K) return call("redis_zremrangebyscore", K .. "z", "3", "3") end,
  function(call, K) return call("redis_zremrangebyrank", K .. "z", 0, 0) end,
  function(call, K) return call("redis_lpush", K .. "l", "a", "b") end,
  function(call, K) return call("redis_rpush", K .. "l", "c") end,
  function(call, K) return call("redis_lrange", K .. "l", 0, -1) end,
  function(call, K) return call("redis_llen", K .. "l") end,
  function(call, K) return call("redis_lpop", K .. "l") end,
  function(call, K) return call("redis_rpop", K .. "l") end,
  function(call, K) return call("redis_pfadd", K .. "hll", "a", "b") end,
  function(call, K) return call("redis_pfadd", K .. "hll2", "c") end,
  function(call, K) return call("redis_pfmerge", K .. "hll3", K .. "hll", K .. "hll2") end,
  function(call, K) return call("redis_pfcount", K .. "hll3") end,
  function(call, K) return call("redis_upload_script", script, "handleless_incrby") end,
  function(call, K) return call("redis_run_script", "", "handleless_incrby", {K .. "rs"}, {7}) end,
  function(call, K) return call("redis_run_script", script, "", {K .. "rs"}, {1}) end,
  function(call, K)
    return call("redis_pipeline", "write", {{"set", K .. "pp", "1"}, {"incr", K .. "pp"}, {"get", K .. "pp"}})
  end,
  function(call, K) return call("redis_pipeline", "read", {{"hgetall", K .. "h"}, {"exists", K .. "pp"}}) end,
  function(call, K) return call("redis_encrypt", "text") end,
  function(call, K) return call("redis_decrypt", "text") end,
  function(call, K) return call("redis_is_encryption_enabled") end,
}

-- run is the whole sequence through one form; K's text is replaced in
-- the results so the four keyspaces compare.
local function run(form, K, call)
  local out = {}
  for i, step in ipairs(steps) do
    local a, b = step(call, K)
    local text = ser(a) .. " | " .. ser(b)
    local s, e = string.find(text, K, 1, true)
    while s do
      text = string.sub(text, 1, s - 1) .. "K:" .. string.sub(text, e + 1)
      s, e = string.find(text, K, 1, true)
    end
    out[i] = text
  end
  return out
end

function nauthilus_call_filter(request)
  local ok, err = redis.register_redis_pool(P .. "pool", "standalone", {address = "{{ADDR}}"})
  eq(ok, "OK", "register pool"); eq(err, nil, "register pool err")
  local conn = redis.get_redis_connection("default")

  local forms = {
    {"handle", "default"},
    {"connection", conn},
    {"pool name", P .. "pool"},
  }
  local want = run("handle", P .. "h:", function(name, ...) return redis[name]("default", ...) end)
  for i, f in ipairs(forms) do
    if i > 1 then
      local got = run(f[1], P .. "f" .. i .. ":", function(name, ...) return redis[name](f[2], ...) end)
      for j = 1, #steps do eq(got[j], want[j], f[1] .. " form, step " .. j) end
    end
  end
  local old = run("old", P .. "o:", function(name, ...) return redis[name](...) end)
  for j = 1, #steps do eq(old[j], want[j], "old form, step " .. j) end
  -- The results are real, not equal failures.
  eq(want[4], "string:v1 | nil:nil", "handle form get")
  eq(want[22], "number:2 | nil:nil", "handle form hlen")

  -- A key spelled like a connection name is taken for the connection:
  -- redis_get("default") is the handle form without a key.
  ok, err = pcall(function() return redis.redis_get("default") end)
  eq(ok, false, "old form key default")
  eq(string.find(err, "bad argument #2 to redis_get (string expected, got nil)", 1, true) ~= nil, true, "key default error: " .. tostring(err))
  ok, err = pcall(function() return redis.redis_set(P .. "pool", "v") end)
  eq(ok, false, "old form key named like the pool")
  eq(string.find(err, "bad argument #3 to redis_set", 1, true) ~= nil, true, "pool-named key error: " .. tostring(err))

  -- Wrong argument types still raise, naming the function; in the old
  -- form the number counts the connection as argument 1.
  ok, err = pcall(function() return redis.redis_hget(P .. "o:h", {}) end)
  eq(ok, false, "old form wrong type")
  eq(string.find(err, "bad argument #3 to redis_hget (string expected, got table)", 1, true) ~= nil, true,
    "old form type error: " .. tostring(err))
  ok, err = pcall(function() return redis.redis_expire(P .. "o:h") end)
  eq(ok, false, "old form missing seconds")
  eq(string.find(err, "bad argument #3 to redis_expire", 1, true) ~= nil, true, "old form arity error: " .. tostring(err))

  -- Not a key: nil, a table, a foreign userdata still mean "default".
  eq(redis.redis_get(nil, P .. "h:s"), "v1", "nil handle")
  eq(redis.redis_get({}, P .. "h:s"), "v1", "table handle")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- Sorted sets, lists and HyperLogLog wrappers (corpus §5 item 6's
-- zrevrange_withscores rows).
local redis = require("nauthilus_redis")
local P = "{{P}}"

local function eq(got, want, what)
  if got ~= want then
    error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 0)
  end
end

function nauthilus_call_filter(request)
  local h = redis.get_redis_connection("default")
  local z = P .. "z"
  eq(redis.redis_zadd(h, z, {a = 1, b = "2", c = "junk"}), 3, "zadd table")
  eq(redis.redis_zadd(h, z, "d", 4, "e", 5), 2, "zadd pairs")
  eq(redis.redis_zscore(h, z, "c"), 0, "non-number score counts as 0")
  eq(redis.redis_zscore(h, z, "b"), 2, "numeric string score")
  local v, err = redis.redis_zscore(h, z, "none")
  eq(v, nil, "zscore missing"); eq(err, "redis: nil", "zscore missing err")
  local r = redis.redis_zrange(h, z, 0, -1)
  eq(table.concat(r, ","), "c,a,b,d,e", "zrange")
  eq(table.concat(redis.redis_zrevrange(h, z, 0, 1), ","), "e,d", "zrevrange")
  local ws = redis.redis_zrevrange_withscores(h, z, 0, 1)
  eq(#ws, 2, "withscores rows"); eq(ws[1].member, "e", "withscores member"); eq(ws[1].score, 5, "withscores score")
  eq(table.concat(redis.redis_zrangebyscore(h, z, "(1", "+inf"), ","), "b,d,e", "zrangebyscore")
  eq(table.concat(redis.redis_zrangebyscore(h, z, "-inf", "+inf", {offset = 1, count = 2}), ","), "a,b", "zrangebyscore limit")
  eq(table.concat(redis.redis_zrangebyscore(h, z, 0, 10, 3, 1), ","), "d", "zrangebyscore numbers")
  eq(redis.redis_zcount(h, z, 2, "+inf"), 3, "zcount")
  eq(redis.redis_zrank(h, z, "a"), 1, "zrank")
  eq(redis.redis_zrevrank(h, z, "a"), 3, "zrevrank")
  v, err = redis.redis_zrevrank(h, z, "none")
  eq(v, nil, "zrevrank missing"); eq(err, "redis: nil", "zrevrank missing err")
  eq(redis.redis_zincrby(h, z, 10, "a"), 11, "zincrby: increment first")
  eq(redis.redis_zrem(h, z, "a", "none"), 1, "zrem")
  eq(redis.redis_zrem(h, z, {"b"}), 1, "zrem table")
  eq(redis.redis_zremrangebyscore(h, z, "-inf", 0), 1, "zremrangebyscore")
  eq(redis.redis_zremrangebyrank(h, z, 0, 0), 1, "zremrangebyrank")

  local l = P .. "l"
  eq(redis.redis_rpush(h, l, "a", "b"), 2, "rpush")
  eq(redis.redis_lpush(h, l, {"z"}), 3, "lpush table")
  eq(table.concat(redis.redis_lrange(h, l, 0, -1), ","), "z,a,b", "lrange")
  eq(redis.redis_llen(h, l), 3, "llen")
  eq(redis.redis_lpop(h, l), "z", "lpop")
  eq(redis.redis_rpop(h, l), "b", "rpop")
  redis.redis_rpop(h, l)
  v, err = redis.redis_lpop(h, l)
  eq(v, nil, "lpop empty"); eq(err, "redis: nil", "lpop empty err")

  eq(redis.redis_pfadd(h, P .. "hll1", "a", "b", "c"), 1, "pfadd")
  eq(redis.redis_pfadd(h, P .. "hll2", {"c", "d"}), 1, "pfadd table")
  eq(redis.redis_pfcount(h, P .. "hll1"), 3, "pfcount")
  eq(redis.redis_pfmerge(h, P .. "hll3", P .. "hll1", P .. "hll2"), "OK", "pfmerge")
  eq(redis.redis_pfcount(h, P .. "hll3"), 4, "pfcount merged")

  -- A wrong type is an error value, never a raised error.
  v, err = redis.redis_hget(h, l .. "x", "f")
  redis.redis_set(h, P .. "str", "x")
  v, err = redis.redis_hget(h, P .. "str", "f")
  eq(v, nil, "wrongtype value")
  eq(string.sub(err, 1, 9), "WRONGTYPE", "wrongtype err")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- 1.0 and 1.2 Redis calls through the global `nauthilus` table: no handle
-- (the "default" connection), and the v1.0 string calls' one-value
-- convention. {{P}} is the test's key prefix.
local P = "{{P}}"

local function eq(got, want, what)
  if got ~= want then error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 2) end
end

function nauthilus_call_filter(request)
  -- v1.0: a missing key is nil plus "redis: nil".
  local v, err = nauthilus.redis_get_str(P .. "missing")
  eq(v, nil, "missing value")
  eq(err, "redis: nil", "missing error")
  -- Success is exactly one value.
  eq(select("#", nauthilus.redis_set_str(P .. "k", "v")), 1, "set_str values")
  eq(nauthilus.redis_set_str(P .. "k", "v2"), "OK", "set_str")
  eq(select("#", nauthilus.redis_get_str(P .. "k")), 1, "get_str values")
  eq(nauthilus.redis_get_str(P .. "k"), "v2", "get_str")
  eq(nauthilus.redis_incr(P .. "n"), 1, "incr")
  eq(nauthilus.redis_incr(P .. "n"), 2, "incr again")
  eq(select("#", nauthilus.redis_incr(P .. "n")), 1, "incr values")
  nauthilus.redis_expire(P .. "n", 60)
  eq(nauthilus.redis_del(P .. "n"), 1, "del")
  -- A wrong type is nil plus the error text.
  v, err = nauthilus.redis_incr(P .. "k")
  eq(v, nil, "incr of a string")
  if type(err) ~= "string" or err == "" then error("incr of a string: no error") end

  -- v1.2: handle-less module calls, the module's own returns.
  local n, herr = nauthilus.redis_hset(P .. "h", "f", "x")
  eq(herr, nil, "hset error")
  eq(n, 1, "hset")
  eq(nauthilus.redis_hget(P .. "h", "f"), "x", "hget")
  eq(nauthilus.redis_hgetall(P .. "h").f, "x", "hgetall")
  nauthilus.redis_sadd(P .. "s", "a")
  eq(nauthilus.redis_sismember(P .. "s", "a"), true, "sismember")
  eq(nauthilus.redis_scard(P .. "s"), 1, "scard")
  nauthilus.redis_set(P .. "r", "1")
  nauthilus.redis_rename(P .. "r", P .. "r2")
  eq(nauthilus.redis_get(P .. "r2"), "1", "rename")
  return nauthilus.FILTER_ACCEPT, nauthilus.FILTER_RESULT_OK
end

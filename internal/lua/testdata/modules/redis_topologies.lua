-- nauthilus_redis on a Redis Cluster "default" and on Sentinel pools
-- (the Go test fills in {{SENTINEL}} and {{MASTER}}). Keys sharing {{P}}
-- in braces share a slot, so the multi-key commands work on a cluster.
local redis = require("nauthilus_redis")
local P = "{{P}}"

local function eq(got, want, what)
  if got ~= want then
    error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 0)
  end
end

function nauthilus_call_filter(request)
  local h = redis.get_redis_connection("default")
  -- Keys spread over the cluster's primaries.
  for i = 1, 20 do
    eq(redis.redis_set(h, P .. "spread" .. i, i), "OK", "set " .. i)
  end
  for i = 1, 20 do
    eq(redis.redis_get(h, P .. "spread" .. i, "number"), i, "get " .. i)
  end
  eq(redis.redis_hset(h, P .. "h", "f", "v"), 1, "hset")
  local v, err = redis.redis_hget(h, P .. "h", "none")
  eq(err, "redis: nil", "hget missing")
  local tag = "{" .. P .. "}"
  eq(redis.redis_mset(h, tag .. "a", "1", tag .. "b", "2"), "OK", "mset one slot")
  eq(redis.redis_mget(h, tag .. "a", tag .. "b")[tag .. "b"], "2", "mget one slot")
  local res = redis.redis_pipeline(h, "write", {{"get", P .. "spread1"}, {"get", P .. "spread2"}, {"get", P .. "none"}})
  eq(res[1].value, "1", "pipeline over slots 1"); eq(res[2].value, "2", "pipeline over slots 2")
  eq(res[3].ok, true, "pipeline nil"); eq(res[3].value, nil, "pipeline nil value")
  redis.redis_upload_script(h, "return redis.call('INCR', KEYS[1])", P .. "incr")
  eq(redis.redis_run_script(h, "", P .. "incr", {P .. "spread3"}, {}), 4, "script on the key's node")
  eq(redis.redis_run_script(h, "", P .. "incr", {P .. "spread7"}, {}), 8, "script on another node")

  if "{{SENTINEL}}" ~= "" then
    for _, mode in ipairs({"sentinel", "sentinel_replica"}) do
      local ok, err = redis.register_redis_pool(P .. mode, mode, {addresses = {"{{SENTINEL}}"}, master_name = "{{MASTER}}"})
      eq(err, nil, mode .. " register")
      local pool = redis.get_redis_connection(P .. mode)
      eq(type(pool), "userdata", mode .. " found by name")
      eq(redis.redis_set(pool, P .. mode, "via " .. mode), "OK", mode .. " write goes to the primary")
      if mode == "sentinel" then
        eq(redis.redis_get(pool, P .. mode), "via sentinel", "sentinel read")
      end
    end
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- A rate-limit style filter writing to nauthilus_redis; run by
-- dryrun_redis_test.go as a real run and as a dry run (explain). It finds
-- out which by reading back a key it just set. {{P}} is the test's prefix.
local redis = require("nauthilus_redis")
local P = "{{P}}"

local function eq(got, want, what)
  if got ~= want then
    error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 0)
  end
end

function nauthilus_call_filter(request)
  local h = "default"
  local before = tonumber((redis.redis_get(h, P .. "count"))) or 0
  eq(redis.redis_set(h, P .. "probe", "x", 60), "OK", "set")
  local dry = redis.redis_get(h, P .. "probe") == nil

  eq(redis.redis_incr(h, P .. "count"), before + 1, "incr answers the count after this login")
  local field = tonumber((redis.redis_hget(h, P .. "hash", "f"))) or 0
  eq(redis.redis_hincrby(h, P .. "hash", "f", 5), field + 5, "hincrby")
  redis.redis_expire(h, P .. "count", 3600)
  redis.redis_sadd(h, P .. "set", request.username)
  redis.redis_lpush(h, P .. "list", "x")
  local popped, perr = redis.redis_rpop(h, P .. "list")
  eq(redis.redis_upload_script(h, "return 1", "one"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "upload answers the sha1")
  local ran, serr = redis.redis_run_script(h, "return redis.call('SET', KEYS[1], 'y')", "", {P .. "scripted"})
  local piped, werr = redis.redis_pipeline(h, "write", {{"set", P .. "piped", "1"}, {"get", P .. "count"}})
  local reads, rerr = redis.redis_pipeline(h, "read", {{"get", P .. "count"}, {"llen", P .. "list"}})
  eq(rerr, nil, "a pipeline of reads runs")
  eq(reads[1].value, tostring(before + (dry and 0 or 1)), "the pipeline read")
  redis.redis_del(h, P .. "probe")

  if dry then
    eq(ran, nil, "run_script in a dry run")
    eq(serr, "nauthilus_redis.redis_run_script: not run in a dry run (explain)", "run_script error")
    eq(piped, nil, "a pipeline with a write")
    eq(werr, "nauthilus_redis.redis_pipeline: not run in a dry run (explain)", "pipeline error")
    eq(popped, "old", "rpop answers the element it would take")
    nauthilus_builtin.custom_log_add("mode", "dry")
  else
    eq(serr, nil, "run_script"); eq(werr, nil, "pipeline")
    nauthilus_builtin.custom_log_add("mode", "real")
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

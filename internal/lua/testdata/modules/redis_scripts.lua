-- Corpus §5 item 4: upload, run by name, run by source, nil replies.
-- The Go test flushes Redis's script cache between the two runs (run 2
-- sets request.username to "second").
local redis = require("nauthilus_redis")
local P = "{{P}}"

local function eq(got, want, what)
  if got ~= want then
    error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 0)
  end
end

local INCR_BY = [[
local n = redis.call("INCRBY", KEYS[1], ARGV[1])
return {n, "done", {1, 2}}
]]

function nauthilus_call_filter(request)
  local h = "default"
  if request.username ~= "second" then
    local sha, err = redis.redis_upload_script(h, INCR_BY, P .. "incr_by")
    eq(err, nil, "upload err"); eq(#sha, 40, "sha1")
  end
  -- By name (source ignored), keys and args as tables.
  local res, err = redis.redis_run_script(h, "", P .. "incr_by", {P .. "n"}, {5})
  eq(err, nil, "run by name err")
  eq(type(res), "table", "array reply")
  eq(res[2], "done", "bulk reply"); eq(res[3][2], 2, "nested reply")
  if request.username == "second" then
    eq(res[1], 10, "second run incremented again")
  else
    eq(res[1], 5, "integer reply")
  end
  -- Args as varargs from position 5.
  res = redis.redis_run_script(h, "", P .. "incr_by", {P .. "v"}, 2)
  eq(res[1] >= 2, true, "vararg args")

  -- Unknown names never reach Redis.
  res, err = redis.redis_run_script(h, "", P .. "unknown", {})
  eq(res, nil, "unknown name")
  eq(err, "could not find script with name " .. P .. "unknown", "unknown name err")

  -- By source with EVAL; false and nil replies are "redis: nil".
  res, err = redis.redis_run_script(h, "return false", "", {})
  eq(res, nil, "false reply"); eq(err, "redis: nil", "false reply err")
  res, err = redis.redis_run_script(h, "return nil", "", {})
  eq(err, "redis: nil", "nil reply err")
  eq(redis.redis_run_script(h, "return true", "", {}), 1, "true reply")
  eq(redis.redis_run_script(h, "return redis.status_reply('FINE')", "", {}), "FINE", "status reply")
  res, err = redis.redis_run_script(h, "return redis.error_reply('MYERR broken')", "", {})
  eq(res, nil, "error reply")
  eq(string.find(err, "MYERR broken", 1, true) ~= nil, true, "error reply err: " .. tostring(err))
  res, err = redis.redis_run_script(h, "this is not lua", "", {})
  eq(res, nil, "bad script"); eq(type(err), "string", "bad script err")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- Corpus §5 item 5: pipelines.
local redis = require("nauthilus_redis")
local P = "{{P}}"

local function eq(got, want, what)
  if got ~= want then
    error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 0)
  end
end

function nauthilus_call_filter(request)
  local h = "default"
  redis.redis_set(h, P .. "str", "x")
  redis.redis_upload_script(h, "return redis.call('GET', KEYS[1])", P .. "get")

  local res, err = redis.redis_pipeline(h, "write", {
    {"set", P .. "a", "1", 60},
    {"get", P .. "missing"},
    {"hget", P .. "str", "f"},          -- WRONGTYPE
    {"hset", P .. "h", "f", "v", "g", "w"},
    {"hmget", P .. "h", "f", "none", "g"},
    {"mget", P .. "a", P .. "missing"},
    {"hgetall", P .. "h"},
    {"hexists", P .. "h", "f"},
    {"sadd", P .. "s", "m"},
    {"sismember", P .. "s", "m"},
    {"expire", P .. "a", 100},
    {"zadd", P .. "z", 3, "member"},
    {"zcount", P .. "z", "-inf", "+inf"},
    {"zscore", P .. "z", "member"},
    {"incr", P .. "n"},
    {"del", P .. "n"},
    {"run_script", P .. "get", {P .. "a"}, {}},
    {"run_script", P .. "get", {P .. "missing"}, {}},
    {"scan", 0, P .. "*", 1000},
    {"pfadd", P .. "hll", "a"},
    {"pfcount", P .. "hll"},
    {"ping"},
  })
  eq(err, nil, "pipeline err")
  eq(#res, 22, "one result per row")
  eq(res[1].ok, true, "set ok"); eq(res[1].value, "OK", "set value")
  eq(res[2].ok, true, "get missing ok"); eq(res[2].value, nil, "get missing has no value")
  eq(res[3].ok, false, "wrongtype row fails")
  eq(string.sub(res[3].err, 1, 9), "WRONGTYPE", "wrongtype err")
  eq(res[4].value, 2, "hset")
  eq(res[5].value[1], "v", "hmget positional 1"); eq(res[5].value[2], nil, "hmget hole"); eq(res[5].value[3], "w", "hmget positional 3")
  eq(res[6].value[1], "1", "mget positional")
  eq(res[7].value.g, "w", "hgetall map")
  eq(res[8].value, true, "hexists boolean")
  eq(res[10].value, true, "sismember boolean")
  eq(res[11].value, true, "expire boolean")
  eq(res[12].value, 1, "zadd score first")
  eq(res[13].value, 1, "zcount")
  eq(res[14].value, 3, "zscore")
  eq(res[15].value, 1, "incr"); eq(res[16].value, 1, "del")
  eq(res[17].value, "1", "run_script")
  eq(res[18].ok, true, "run_script nil reply ok"); eq(res[18].value, nil, "run_script nil reply")
  eq(type(res[19].value.keys), "table", "scan keys"); eq(res[19].value.cursor, 0, "scan cursor")
  eq(res[21].value, 1, "pfcount")
  eq(res[22].value, "PONG", "ping")

  -- Errors before sending: nothing is written.
  res, err = redis.redis_pipeline(h, "write", {{"set", P .. "never", "1"}, {"flushall"}})
  eq(res, nil, "unknown command"); eq(err, "unsupported pipeline command: flushall", "unknown command err")
  res, err = redis.redis_pipeline(h, "write", {{"set", P .. "never", "1"}, {"evalsha", "x"}})
  eq(err, "unsupported pipeline command: evalsha", "evalsha alias")
  res, err = redis.redis_pipeline(h, "write", {{"set", P .. "never", "1"}, "get"})
  eq(err, "pipeline command at index 2 must be a table", "row not a table")
  res, err = redis.redis_pipeline(h, "write", {{"set", P .. "never", "1"}, {"run_script", P .. "nope", {}, {}}})
  eq(err, "could not find script with name " .. P .. "nope", "unknown script row")
  res, err = redis.redis_pipeline(h, "write", {{"set", P .. "never", "1"}, {"get"}})
  eq(res, nil, "missing argument")
  eq(redis.redis_exists(h, P .. "never"), 0, "nothing was written")

  -- Reading stops at the first missing index; read mode; empty.
  res = redis.redis_pipeline(h, "read", {{"get", P .. "a"}, nil, {"get", P .. "a"}})
  eq(#res, 1, "stops at the first hole"); eq(res[1].value, "1", "read mode")
  eq(#redis.redis_pipeline(h, "read", {}), 0, "empty pipeline")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- Corpus §5 item 3: handles and pools.
local redis = require("nauthilus_redis")
local P = "{{P}}"

local function eq(got, want, what)
  if got ~= want then
    error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 0)
  end
end

function nauthilus_call_filter(request)
  -- Anything but a handle that cannot be a key means "default".
  redis.redis_set("default", P .. "k", "v")
  eq(redis.redis_get(nil, P .. "k"), "v", "nil handle")
  eq(redis.redis_get({}, P .. "k"), "v", "table handle")
  -- A string or number naming no connection is a key (the handle-less
  -- form, redis_handleless.lua): GET P .. "other-name", with P .. "k" as
  -- the type.
  local v, err = redis.redis_get(P .. "other-name", P .. "k")
  eq(v, nil, "unknown string handle is a key"); eq(err, "redis: nil", "unknown string handle err")
  v, err = redis.redis_get(42, P .. "k")
  eq(v, nil, "number handle is a key"); eq(err, "redis: nil", "number handle err")

  local h, err = redis.get_redis_connection("default")
  eq(type(h), "userdata", "default handle"); eq(err, nil, "default err")
  eq(redis.redis_get(h, P .. "k"), "v", "default handle reads")

  h, err = redis.get_redis_connection("nope")
  eq(h, nil, "unknown pool")
  eq(err, "No known redis configuration for name 'nope'", "unknown pool err")

  -- A pool on the allowed server: first registration works, the second fails.
  local ok
  ok, err = redis.register_redis_pool(P .. "pool", "standalone", {address = "{{ADDR}}", password = 42})
  eq(ok, "OK", "register"); eq(err, nil, "register err")
  ok, err = redis.register_redis_pool(P .. "pool", "standalone", {address = "{{ADDR}}"})
  eq(ok, nil, "second register")
  eq(err, "register_redis_pool: redis pool '" .. P .. "pool' already exists", "second register err")
  local pool = redis.get_redis_connection(P .. "pool")
  eq(redis.redis_get(pool, P .. "k"), "v", "pool reads")

  -- Addresses the operator did not allow, unknown modes.
  ok, err = redis.register_redis_pool(P .. "evil", "standalone", {address = "192.0.2.1:6379", password = "pool-secret-pw"})
  eq(ok, nil, "foreign address")
  eq(string.find(err, "not allowed", 1, true) ~= nil, true, "foreign address err: " .. tostring(err))
  eq(string.find(err, "pool-secret-pw", 1, true), nil, "password in error")
  ok, err = redis.register_redis_pool(P .. "m", "ring", {address = "{{ADDR}}"})
  eq(err, "register_redis_pool: unknown redis mode 'ring'", "unknown mode")
  ok, err = redis.register_redis_pool("default", "standalone", {address = "{{ADDR}}"})
  eq(ok, nil, "register default")
  ok, err = redis.register_redis_pool(P .. "tls", "standalone", {address = "{{ADDR}}", tls_enabled = true, tls_cert_file = "/etc/shadow"})
  eq(ok, nil, "cert file refused")

  -- Encryption helpers without a security manager (v2.0).
  local c
  c, err = redis.redis_encrypt("default", "secret")
  eq(c, nil, "encrypt"); eq(err, "security manager not available", "encrypt err")
  c, err = redis.redis_decrypt("default", "x")
  eq(err, "security manager not available", "decrypt err")
  eq(redis.redis_is_encryption_enabled("default"), false, "encryption enabled")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

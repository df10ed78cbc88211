-- A backend monitoring filter in the style of Nauthilus's documentation:
-- a user keeps the backend they were first given, stored in Redis hashes
-- that every backline (and Nauthilus) instance sharing the Redis reads, and
-- the Dovecot session that asked is recorded next to it. Written for
-- backline's tests; it uses only what Nauthilus scripts use:
-- nauthilus_backend, nauthilus_redis, nauthilus_http_request.
local nauthilus_backend = require("nauthilus_backend")
local nauthilus_redis = require("nauthilus_redis")
local nauthilus_http_request = require("nauthilus_http_request")

local N = "backline_test_monitoring"
local AFFINITY_TTL = 3600 -- seconds

-- The backend a user is given, per protocol: hash <N>:affinity:<account>,
-- field <protocol>, value "host:port".
local function affinity_key(account)
  return N .. ":affinity:" .. account
end

-- The Dovecot sessions that logged the user in: hash <N>:sessions:<account>,
-- field <session>, value "host:port".
local function sessions_key(account)
  return N .. ":sessions:" .. account
end

local function dovecot_session()
  local values = nauthilus_http_request.get_http_request_header("X-Dovecot-Session")
  if type(values) == "table" and #values == 1 and values[1] ~= "" then
    return values[1]
  end
  return nil
end

function nauthilus_call_filter(request)
  -- Only a successful login gets a backend; a lookup (no-auth) has none.
  if request.no_auth or not request.authenticated then
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
  end
  local account = request.account
  if account == nil or account == "" then
    account = request.username
  end

  -- The healthy servers of the request's protocol, by "host:port".
  local valid = {}
  local names = {}
  for _, server in ipairs(nauthilus_backend.get_backend_servers()) do
    if server.protocol == request.protocol then
      local name = server.host .. ":" .. tostring(server.port)
      valid[name] = server
      table.insert(names, name)
    end
  end
  if #names == 0 then
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
  end

  local handle = "default"
  local stored, err = nauthilus_redis.redis_hget(handle, affinity_key(account), request.protocol)
  if err ~= nil and err ~= "redis: nil" then
    error("affinity lookup: " .. err)
  end

  local chosen = stored and valid[stored] and stored or nil
  if chosen == nil then
    -- First login, or the stored backend is gone: any healthy one (at
    -- random, so that only the stored affinity can make two instances
    -- agree), then remember it.
    chosen = names[math.random(#names)]
    local _, err_set = nauthilus_redis.redis_hset(handle, affinity_key(account), request.protocol, chosen)
    if err_set ~= nil then
      error("affinity store: " .. err_set)
    end
    nauthilus_builtin.custom_log_add(N .. "_new", chosen)
  end
  nauthilus_redis.redis_expire(handle, affinity_key(account), AFFINITY_TTL)

  local session = dovecot_session()
  if session ~= nil then
    nauthilus_redis.redis_hset(handle, sessions_key(account), session, chosen)
    nauthilus_redis.redis_expire(handle, sessions_key(account), AFFINITY_TTL)
    nauthilus_builtin.custom_log_add(N .. "_session", session)
  end

  nauthilus_backend.select_backend_server(valid[chosen].host, valid[chosen].port)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

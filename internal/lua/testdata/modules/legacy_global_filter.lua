-- A 1.0-era filter: no require, everything through the global `nauthilus`
-- table. Functions whose module this backline has are exercised; the
-- others must raise an error naming both the 1.0 and the module name.
dynamic_loader("nauthilus_backend") -- pre-1.11 scripts call it; a no-op
dynamic_loader("no_such_module")
dynamic_loader()

-- Captured at the top level: on a pooled state it must still act on the
-- current request (the Go test runs this twice).
local n = nauthilus

local function raises(fn, text)
  local ok, err = pcall(fn)
  if ok then error("did not raise, want " .. text, 2) end
  if not string.find(tostring(err), text, 1, true) then
    error("raised " .. tostring(err) .. ", want " .. text, 2)
  end
end

local function eq(got, want, what)
  if got ~= want then error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 2) end
end

local function available(module, fn)
  local m = _G[module]
  return type(m) == "table" and type(m[fn]) == "function"
end

function nauthilus_call_filter(request)
  eq(n.FILTER_ACCEPT, false, "FILTER_ACCEPT")
  eq(n.FILTER_REJECT, true, "FILTER_REJECT")
  eq(n.FILTER_RESULT_OK, 0, "FILTER_RESULT_OK")
  eq(n.FILTER_RESULT_FAIL, 1, "FILTER_RESULT_FAIL")
  eq(n.FEATURE_TRIGGER_NO, false, "FEATURE_TRIGGER_NO")
  eq(n.FEATURE_TRIGGER_YES, true, "FEATURE_TRIGGER_YES")
  eq(n.FEATURES_ABORT_NO, false, "FEATURES_ABORT_NO")
  eq(n.FEATURES_ABORT_YES, true, "FEATURES_ABORT_YES")
  eq(n.FEATURE_RESULT_OK, 0, "FEATURE_RESULT_OK")
  eq(n.FEATURE_RESULT_FAIL, 1, "FEATURE_RESULT_FAIL")
  eq(n.ACTION_RESULT_OK, 0, "ACTION_RESULT_OK")
  eq(n.ACTION_RESULT_FAIL, 1, "ACTION_RESULT_FAIL")
  eq(n.BACKEND_RESULT_OK, 0, "BACKEND_RESULT_OK")
  eq(n.BACKEND_RESULT_FAIL, 1, "BACKEND_RESULT_FAIL")
  eq(n.no_such_function, nil, "unknown names are nil, as in a table")

  n.custom_log_add("legacy_user", request.username)
  n.status_message_set("legacy says hello")

  -- Backend selection (filters only): choose the second server.
  local servers = n.get_backend_servers()
  eq(#servers, 2, "servers")
  n.select_backend_server(servers[2].host, servers[2].port)

  -- HTTP request (1.0: all headers; 1.2: one header, the body).
  local headers = n.get_all_http_request_headers()
  eq(headers["x-dovecot-session"][1], "sess-" .. request.username, "session header")
  eq(n.get_http_request_header("X-Dovecot-Session")[1], "sess-" .. request.username, "one header")
  eq(n.get_http_request_body(), '{"username":"' .. request.username .. '"}', "body")

  -- Context: through nauthilus_context when this backline has it.
  if available("nauthilus_context", "context_set") then
    n.context_set("legacy", { user = request.username })
    eq(n.context_get("legacy").user, request.username, "context round trip")
    n.context_delete("legacy")
    eq(n.context_get("legacy"), nil, "context_delete")
  else
    raises(function() n.context_set("k", "v") end,
      "nauthilus.context_set is not supported by backline here: nauthilus_context.context_set is not available")
  end

  -- Redis: legacy_global_redis.lua (a script calling nauthilus.redis_*
  -- needs storage.redis, like one requiring nauthilus_redis).

  raises(function() n.ldap_search({}) end, "nauthilus.ldap_search is not supported by backline here: nauthilus_ldap.ldap_search")
  if not available("nauthilus_mail", "send_mail") then
    raises(function() n.send_mail({}) end, "nauthilus_mail.send_mail is not available")
  end
  return n.FILTER_ACCEPT, n.FILTER_RESULT_OK
end

-- Older names that Nauthilus's own shipped filters call (measured in
-- issue 12's corpus run): the 1.0-1.2 global backend_result, the four
-- functions v1.3 still had on nauthilus_builtin, and 1.0's nginx names on
-- the global nauthilus table. Each must be the same function as today's.
local br = require("backend_result")

local function eq(got, want, what)
  if got ~= want then error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 2) end
end

function nauthilus_call_filter(request)
  eq(br, backend_result, "require and the global are one module")
  eq(backend_result.new, nauthilus_backend_result.new, "backend_result is nauthilus_backend_result")

  -- v1.3: nauthilus_builtin.*
  eq(nauthilus_builtin.get_http_request_header("X-Dovecot-Session")[1], "sess-" .. request.username, "builtin header")
  local servers = nauthilus_builtin.get_backend_servers()
  eq(#servers, 2, "builtin servers")
  eq(servers[1].host, "127.0.0.1", "builtin server host")
  nauthilus_builtin.remove_from_backend_result({ "Proxy-Host" })
  local b = backend_result.new()
  b:attributes({ ["Legacy-Names"] = request.username })
  nauthilus_builtin.apply_backend_result(b)

  -- 1.0 nginx.lua: a list of {[host] = port}, then select one of them.
  local nginx = nauthilus.get_nginx_backend_servers()
  eq(#nginx, 2, "nginx servers")
  eq(nginx[1]["127.0.0.1"], 1143, "nginx first server")
  for server, port in pairs(nginx[2]) do
    nauthilus.select_nginx_backend_server(server, port)
  end

  eq(nauthilus_builtin.BACKEND_RESULT_OK, 0, "BACKEND_RESULT_OK")
  eq(nauthilus_builtin.BACKEND_RESULT_FAIL, 1, "BACKEND_RESULT_FAIL")
  eq(nauthilus_builtin.BACKEND_RESULT_ERROR, 2, "BACKEND_RESULT_ERROR")
  eq(nauthilus.BACKEND_RESULT_ERROR, 2, "nauthilus.BACKEND_RESULT_ERROR")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- Seed 001 (older lua-api/backendmonitor.md, with dynamic_loader): every
-- example, verbatim, inside one filter. Added for a complete filter: the
-- entry function and its return; some_number (the seed leaves the choice to
-- the reader); the custom_log_add line to observe the check. Changed: the
-- check example's 10.10.10.10:993 became 127.0.0.1 and a test port, so no
-- traffic leaves the machine.
dynamic_loader("nauthilus_backend")
local nauthilus_backend = require("nauthilus_backend")

function nauthilus_call_filter(request)
  local backend_servers = nauthilus_backend.get_backend_servers()

  ---@type table
  local valid_servers = {}

  for _, server in ipairs(backend_servers) do
    -- server.ip
    -- server.port
    -- server.protocol
    -- server.haproxy_v2
    -- server.tls
    -- You may select only HAproxy enabled backends... server.haproxy_v2
    table.insert(valid_servers, server)
  end

  local some_number = 2
  local server = valid_servers[some_number] -- You must define some logic on how to choose a backend server from the list

  nauthilus_backend.select_backend_server(server.ip, server.port)

  local b = nauthilus_backend_result:new()
  local attributes = {}

  attributes["hostip"] = server.ip
  b:attributes(attributes)
  nauthilus_backend.apply_backend_result(b)

  nauthilus_backend.remove_from_backend_result({ "Proxy-Host" })

  local server_ip = "127.0.0.1"
  local server_port = {{PORT}}
  local is_haproxy_v2 = true
  local uses_tls = true

  local error = nauthilus_backend.check_backend_connection(server_ip, server_port, is_haproxy_v2, uses_tls)
  nauthilus_builtin.custom_log_add("check_error", error or "none")

  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- Seed 002 (the rendered backendmonitor page): each example block pasted
-- whole, one after the other, inside one filter, including its own
-- dynamic_loader/require lines. Added: the entry function and its return,
-- some_number, and the custom_log_add line; changed: the check example's
-- 10.10.10.10:993 became 127.0.0.1 and a test port.
function nauthilus_call_filter(request)
dynamic_loader("nauthilus_backend")
local nauthilus_backend = require("nauthilus_backend")

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

dynamic_loader("nauthilus_backend")
local nauthilus_backend = require("nauthilus_backend")

-- See nauthilus_backend.get_backend_servers above!
local server = valid_servers[some_number] -- You must define some logic on how to choose a backend server from the list

nauthilus_backend.select_backend_server(server.ip, server.port)

dynamic_loader("nauthilus_backend")
local nauthilus_backend = require("nauthilus_backend")

local b = nauthilus_backend_result:new()
local attributes = {}
-- See nauthilus_backend.get_backend_servers above!
local server = valid_servers[some_number] -- You must define some logic on how to choose a backend server from the list

attributes["hostip"] = server.ip
b:attributes(attributes)
nauthilus_backend.apply_backend_result(b)

dynamic_loader("nauthilus_backend")
local nauthilus_backend = require("nauthilus_backend")

nauthilus_backend.remove_from_backend_result({ "Proxy-Host" })

dynamic_loader("nauthilus_backend")
local nauthilus_backend = require("nauthilus_backend")

local server_ip = "127.0.0.1"
local server_port = {{PORT}}
local is_haproxy_v2 = true
local uses_tls = true

local error = nauthilus_backend.check_backend_connection(server_ip, server_port, is_haproxy_v2, uses_tls)
nauthilus_builtin.custom_log_add("check_error", error or "none")

return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

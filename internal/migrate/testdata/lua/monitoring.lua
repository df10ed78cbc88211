-- Picks a healthy Dovecot backend (test fixture for backline migrate).
local nauthilus_backend = require("nauthilus_backend")

function nauthilus_call_filter(request)
    local servers = nauthilus_backend.get_backend_servers()
    if #servers > 0 then
        nauthilus_backend.select_backend_server(servers[1].host, servers[1].port)
    end
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- Routes "user+b" to the second healthy IMAP backend, everyone else to the
-- first; rejects "locked" with a status message; attaches an attribute.
local nauthilus_backend = require("nauthilus_backend")

function nauthilus_call_filter(request)
    if request.username == "locked" then
        nauthilus_builtin.status_message_set("Account locked")
        return nauthilus_builtin.FILTER_REJECT, nauthilus_builtin.FILTER_RESULT_OK
    end
    local imap = {}
    for _, server in ipairs(nauthilus_backend.get_backend_servers()) do
        if server.protocol == request.protocol then
            table.insert(imap, server)
        end
    end
    local pick = imap[1]
    if string.sub(request.username, -2) == "+b" then
        pick = imap[2]
    end
    if pick ~= nil then
        nauthilus_backend.select_backend_server(pick.host, pick.port)
    end
    local b = nauthilus_backend_result.new()
    b:attributes({ routed_by = "lua", authenticated = tostring(request.authenticated) })
    nauthilus_backend.apply_backend_result(b)
    nauthilus_builtin.custom_log_add("route_user", request.username)
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- Sends a user's first login to the first healthy backend of the protocol
-- and later ones to the second, counting logins in nauthilus_cache: what
-- explain's dry run must not count.
local nauthilus_backend = require("nauthilus_backend")
local cache = require("nauthilus_cache")

function nauthilus_call_filter(request)
    local key = "logins:" .. request.username
    local seen = cache.cache_get(key) or 0
    cache.cache_set(key, seen + 1, 3600)
    local servers = {}
    for _, server in ipairs(nauthilus_backend.get_backend_servers()) do
        if server.protocol == request.protocol then
            table.insert(servers, server)
        end
    end
    local pick = servers[1]
    if seen > 0 then
        pick = servers[2]
    end
    if pick ~= nil then
        nauthilus_backend.select_backend_server(pick.host, pick.port)
    end
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- Seed 000 (Nauthilus 1.12 docs, lua-api/backend.md): every example,
-- verbatim, inside one filter. Added for a complete filter: the entry
-- function and its return; the variables of the syntax-only
-- check_backend_connection example (its port is filled in by the test); the
-- custom_log_add lines that let the test observe the results.
local nauthilus_backend = require("nauthilus_backend")

function nauthilus_call_filter(request)
    local servers = nauthilus_backend.get_backend_servers()
    for i, server in ipairs(servers) do
        nauthilus_util.log_debug("Found server: " .. server.host .. ":" .. tostring(server.port))
    end

    nauthilus_backend.select_backend_server("10.0.0.50", 993)

    local protocol, host, port, tls, skip_verify, haproxy_v2 = "imap", "127.0.0.1", {{PORT}}, false, false, false
    local ok, err = nauthilus_backend.check_backend_connection(protocol, host, port, tls, skip_verify, haproxy_v2)
    nauthilus_builtin.custom_log_add("check_ok", ok)
    nauthilus_builtin.custom_log_add("check_err", err or "none")

    local b = nauthilus_backend_result.new()
    b:attributes({ custom_field = "new_value" })
    nauthilus_backend.apply_backend_result(b)

    nauthilus_backend.remove_from_backend_result({"temp_attribute", "internal_id"})

    nauthilus_builtin.custom_log_add("servers", #servers)
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

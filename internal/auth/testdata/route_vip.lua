-- Explain's agreement test: "vip" users go to imap-c, "old" users to
-- imap-d (which the test makes ineligible, so the policy decides), everyone
-- else is left to the default policy.
local nauthilus_backend = require("nauthilus_backend")

function nauthilus_call_filter(request)
    local prefix = string.sub(request.username, 1, 3)
    if prefix == "vip" then
        nauthilus_backend.select_backend_server("127.0.0.3", 3143)
    elseif prefix == "old" then
        nauthilus_backend.select_backend_server("127.0.0.4", 4143)
    end
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

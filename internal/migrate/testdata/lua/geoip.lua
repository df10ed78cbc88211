-- Logs the client's country (test fixture for backline migrate).
function nauthilus_call_filter(request)
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- A filter that logs the key passdb_logs.lua logs too, and one of its own.
function nauthilus_call_filter(request)
    nauthilus_builtin.custom_log_add("shared", "from filter")
    nauthilus_builtin.custom_log_add("filter_only", request.username)
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

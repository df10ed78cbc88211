-- Lua password backend (test fixture for backline migrate).
function nauthilus_backend_verify_password(request)
    local b = nauthilus_backend_result.new()
    return nauthilus_builtin.BACKEND_RESULT_OK, b
end

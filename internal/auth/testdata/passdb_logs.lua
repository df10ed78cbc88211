-- A password backend that logs with custom_log_add: hostile entries (the
-- password as a value and as a key, a huge value, control characters) and
-- a key the log_filter.lua filter adds too. "logger" is known (password
-- s3cr3t-p4ss, the tests' testPassword); "logfail" makes the script answer
-- BACKEND_RESULT_FAIL (a tempfail).
function nauthilus_backend_verify_password(request)
    local log = nauthilus_builtin.custom_log_add
    log("backend_user", request.username)
    log("backend_pw", request.password)
    log("backend_pw_inside", "pw=" .. request.password .. ";")
    log(request.password, "the key is the password")
    log("backend_huge", string.rep("x", 100000))
    log("backend_ctrl", "a\nb\r\027[31mc\0d")
    log("ctrl\nkey", "v")
    log("backend_num", 42)
    log("backend_bool", true)
    log("shared", "from passdb")
    log("backend_dup", "first")
    log("backend_dup", "second")
    local b = nauthilus_backend_result.new()
    if request.username == "logfail" then
        return nauthilus_builtin.BACKEND_RESULT_FAIL, b
    end
    if request.username == "logger" then
        b:user_found(true)
        b:authenticated(request.password == "s3cr3t-" .. "p4ss")
    end
    return nauthilus_builtin.BACKEND_RESULT_OK, b
end

function nauthilus_backend_list_accounts()
    nauthilus_builtin.custom_log_add("listed_by", "passdb_logs")
    return nauthilus_builtin.BACKEND_RESULT_OK, { "logger" }
end

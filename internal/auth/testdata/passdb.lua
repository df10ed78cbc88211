-- A password backend: "luauser" with password "lua-pass"; "failing" makes
-- the backend itself fail (tempfail).
function nauthilus_backend_verify_password(request)
    local b = nauthilus_backend_result.new()
    if request.username == "failing" then
        return nauthilus_builtin.BACKEND_RESULT_FAIL, b
    end
    if request.username == "luauser" then
        b:user_found(true)
        b:account_field("uid")
        b:attributes({ uid = "luauser@example.org", mailhost = "10.1.1.1" })
        b:authenticated(request.password == "lua-pass")
    end
    return nauthilus_builtin.BACKEND_RESULT_OK, b
end

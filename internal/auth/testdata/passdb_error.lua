-- A password backend in the style of a proxy to another auth service: it
-- answers BACKEND_RESULT_ERROR when its upstream refused ("refused", the
-- upstream's wrong-password answer) or claims a login with it ("claims").
function nauthilus_backend_verify_password(request)
    local b = nauthilus_backend_result.new()
    if request.username == "proxied" and request.password == "proxy-pass" then
        b:user_found(true)
        b:authenticated(true)
        return nauthilus_builtin.BACKEND_RESULT_OK, b
    end
    b:user_found(request.username == "claims")
    b:authenticated(request.username == "claims")
    b:attributes({ error = "unexpected_status=403" })
    return nauthilus_builtin.BACKEND_RESULT_ERROR, b
end

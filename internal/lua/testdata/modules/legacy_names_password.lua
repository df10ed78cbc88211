-- A password script in the style of Nauthilus's proxy_backend.lua: when
-- its upstream fails or refuses it returns BACKEND_RESULT_ERROR with a
-- result object. The login is then never authenticated, even if the object
-- says so ("error-claims-auth"); user_found decides about the next database.
-- The 1.0-1.2 global name backend_result works here too; nauthilus_builtin's
-- v1.3 routing names raise in a password script, as nauthilus_backend's do.
function nauthilus_backend_verify_password(request)
  local ok, err = pcall(nauthilus_builtin.apply_backend_result, backend_result.new())
  if ok or not string.find(tostring(err), "only available in filters", 1, true) then
    error("apply_backend_result in a password script: " .. tostring(err))
  end
  local b = backend_result.new()
  if request.password == "right" then
    b:user_found(true)
    b:authenticated(true)
    return nauthilus_builtin.BACKEND_RESULT_OK, b
  end
  b:user_found(request.username == "error-claims-auth")
  b:authenticated(request.username == "error-claims-auth")
  b:attributes({ error = "unexpected_status=403" })
  if request.username == "fail" then
    return nauthilus_builtin.BACKEND_RESULT_FAIL, b
  end
  return nauthilus_builtin.BACKEND_RESULT_ERROR, b
end

function nauthilus_backend_list_accounts()
  return nauthilus_builtin.BACKEND_RESULT_ERROR, {}
end

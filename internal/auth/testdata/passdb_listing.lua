-- A Lua passdb in the style of Nauthilus's docs: it knows one user, answers
-- userdb lookups (request.no_auth) without a password, and lists accounts.
function nauthilus_backend_verify_password(request)
  local b = nauthilus_backend_result.new()
  if request.username == "luauser" then
    b:user_found(true)
    b:account_field("account")
    b:attributes({account = "luauser@example.org", mail = "/var/mail/luauser"})
    if not request.no_auth and request.password == "lua-pass" then
      b:authenticated(true)
    end
  end
  return nauthilus_builtin.BACKEND_RESULT_OK, b
end

function nauthilus_backend_list_accounts()
  return nauthilus_builtin.BACKEND_RESULT_OK, { "luauser@example.org", "second@example.org", "bad\nname" }
end

-- A password script in the style of Nauthilus 1.0's Lua backends: no
-- modules but nauthilus_util, whose compare_passwords 1.3 moved to
-- nauthilus_password, plus the 1.0 global table and backend_result. The
-- "database" is this table; "broken" holds a row that is no hash, which
-- must come back as an error, not as a wrong password.
local pw = require("nauthilus_util")

local rows = {
  -- SHA512-CRYPT of "right-password"
  alice = "$6$legacy10$21HFxTcuNhqusrNeRICfNu2Uy4MTn0VteG0lyEwVxRgMg1MAntKrY8a8tmD0ciEJJJguM/QAV9Y9cHJJd6PLU.",
  broken = "right-password",
}

function nauthilus_backend_verify_password(request)
  local b = backend_result.new()
  local stored = rows[request.username]
  if stored == nil then
    return nauthilus.BACKEND_RESULT_OK, b
  end
  b:user_found(true)
  b:account_field("account")
  local match, err = pw.compare_passwords(stored, request.password)
  if err then
    error(err)
  end
  -- Same function as nauthilus_password's: the arity check answers alike.
  local _, arity = pw.compare_passwords(stored)
  if arity ~= select(2, nauthilus_password.compare_passwords(stored)) then
    error("arity answers differ: " .. tostring(arity))
  end
  b:authenticated(match)
  b:attributes({ account = request.username })
  nauthilus.custom_log_add("backend_lua", "success")
  return nauthilus.BACKEND_RESULT_OK, b
end

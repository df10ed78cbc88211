-- Lua passdb that leaves a note in nauthilus_context for the filters.
local ctx = require("nauthilus_context")

function nauthilus_backend_verify_password(request)
  if ctx.context_get("verified_user") ~= nil then
    error("context left over from another request")
  end
  local b = nauthilus_backend_result.new()
  if request.username ~= "ctxuser" then
    return nauthilus_builtin.BACKEND_RESULT_OK, b
  end
  ctx.context_set("verified_user", request.username)
  b:user_found(true)
  b:authenticated(request.password == "ctx-pass")
  b:account_field("uid")
  b:attributes({ uid = request.username })
  return nauthilus_builtin.BACKEND_RESULT_OK, b
end

-- Lua password script: writes the context the filters of the same request read.
local ctx = require("nauthilus_context")

function nauthilus_backend_verify_password(request)
  if ctx.context_get("seen") ~= nil then
    error("the context carried over from another request")
  end
  ctx.context_set("seen", { by = "password", user = request.username })
  local b = nauthilus_backend_result.new()
  b:authenticated(true)
  b:user_found(true)
  return nauthilus_builtin.BACKEND_RESULT_OK, b
end

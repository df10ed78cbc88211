-- In a Lua password script nauthilus_policy is Nauthilus's placeholder:
-- require works, every function raises "emitter is not available".
local nauthilus_policy = require("nauthilus_policy")
local nauthilus_backend = require("nauthilus_backend")

function nauthilus_backend_verify_password(request)
  for _, name in ipairs({ "emit_attribute", "emit_attributes", "register_attribute", "emit_master_user" }) do
    local ok, err = pcall(nauthilus_policy[name], { id = "lua.plugin.t.x", value = true })
    if ok or not string.find(tostring(err), "emitter is not available in this Lua runtime", 1, true) then
      error(name .. ": " .. tostring(err))
    end
  end
  local b = nauthilus_backend_result.new()
  b:authenticated(true)
  b:user_found(true)
  b:account_field("account")
  b:attributes({ account = request.username })
  return nauthilus_builtin.BACKEND_RESULT_OK, b
end

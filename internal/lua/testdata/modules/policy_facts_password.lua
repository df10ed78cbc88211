-- nauthilus_policy_facts in a Lua password script: facts are stored for the
-- request's filters (policy_facts_reader.lua reads them); emit variants
-- skip the attribute, nauthilus_policy not being bound here.
local policy_facts = require("nauthilus_policy_facts")

function nauthilus_backend_verify_password(request)
  policy_facts.emit("backend", "verified_by", "lua")
  policy_facts.emit_public("backend", "user", request.username)
  policy_facts.status_message("backend", "checked by Lua")
  local b = nauthilus_backend_result.new()
  b:authenticated(true)
  b:user_found(true)
  b:account_field("account")
  b:attributes({ account = request.username })
  return nauthilus_builtin.BACKEND_RESULT_OK, b
end

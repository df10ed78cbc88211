-- Reads what policy_facts_password.lua stored in the same request.
local nauthilus_context = require("nauthilus_context")

function nauthilus_call_filter(request)
  local facts = nauthilus_context.context_get("policy_facts")
  if type(facts) ~= "table" or type(facts.backend) ~= "table" then
    error("no facts from the password script")
  end
  if facts.backend.verified_by ~= "lua" or facts.backend.user ~= request.username
      or facts.backend.status_message ~= "checked by Lua" then
    error("unexpected facts")
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

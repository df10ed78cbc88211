-- nauthilus_keys.account_tag: "{acm-" .. md5hex(username) .. "}" by default.
local keys = require("nauthilus_keys")

function nauthilus_call_filter(request)
  assert(keys.account_tag("alice") == "{{TAG_ALICE}}", keys.account_tag("alice"))
  assert(keys.account_tag(request.username) == keys.account_tag("alice"))
  assert(keys.account_tag("") == "")
  assert(keys.account_tag(nil) == "")
  assert(keys.account_tag() == "")
  -- a hash tag fits Redis Cluster's rule: the part between the first { and }
  local tag = keys.account_tag("user@example.com")
  assert(tag:match("^{[^{}]+}$"), tag)
  assert(nauthilus_keys == nil, "a library, not a global")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

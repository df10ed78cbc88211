-- backend_result:group_dns() as a Nauthilus 3 filter calls it: set, read
-- back (sorted, unique, trimmed), merged by apply_backend_result.
function nauthilus_call_filter(request)
  local b = nauthilus_backend_result.new()
  assert(#b:group_dns() == 0, "a new result has no group_dns")
  b:group_dns({" cn=b,ou=groups,dc=example ", "cn=a,ou=groups,dc=example", "cn=a,ou=groups,dc=example", ""})
  local got = b:group_dns()
  assert(#got == 2 and got[1] == "cn=a,ou=groups,dc=example" and got[2] == "cn=b,ou=groups,dc=example",
    "read back: " .. table.concat(got, "|"))
  nauthilus_backend.apply_backend_result(b)
  local c = nauthilus_backend_result.new()
  c:group_dns({"cn=c,ou=groups,dc=example"})
  nauthilus_backend.apply_backend_result(c)
  assert(#nauthilus_backend.get_current_backend_result():group_dns() == 3, "merged")
  assert(not pcall(function() b:group_dns("not a table") end), "a string must raise")
  assert(not pcall(function() nauthilus_backend_result.group_dns({}) end), "a call without the object must raise")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

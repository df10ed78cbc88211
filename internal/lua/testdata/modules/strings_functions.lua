-- gopher-lua-libs strings: the README's examples and the functions
-- Nauthilus scripts call.
local strings = require("strings")

local function same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

function nauthilus_call_filter(request)
  assert(same(strings.split("a b c d", " "), {"a", "b", "c", "d"}))
  assert(same(strings.split("a,,b", ","), {"a", "", "b"}))
  assert(same(strings.split("", ","), {""}))
  assert(same(strings.split("äb", ""), {"ä", "b"}))
  assert(same(strings.fields("  a \t b\nc  "), {"a", "b", "c"}))
  assert(#strings.fields("   ") == 0)
  assert(strings.has_prefix("abcd", "a") == true and strings.has_prefix("abcd", "b") == false)
  assert(strings.has_suffix("abcd", "d") == true and strings.has_suffix("abcd", "c") == false)
  assert(strings.trim("abcd", "d") == "abc")
  assert(strings.trim("xxhixx", "x") == "hi")
  assert(strings.trim_left("xxhixx", "x") == "hixx" and strings.trim_right("xxhixx", "x") == "xxhi")
  assert(strings.trim_prefix("user@example.com", "user@") == "example.com")
  assert(strings.trim_suffix("user@example.com", "@example.com") == "user")
  assert(strings.trim_space("  \t x y \n") == "x y")
  assert(strings.contains("abcd", "d") == true and strings.contains("abcd", "e") == false)
  assert(strings.join({"a", "b", 3}, ", ") == "a, b, 3")
  assert(strings.join({}, ",") == "")
  assert(not pcall(strings.join, {"a", {}}, ","), "tables are not joined")
  assert(not pcall(strings.split, nil, ","))
  local ok, msg = pcall(strings.new_builder)
  assert(not ok and msg:find("strings.new_builder is not supported", 1, true))
  ok, msg = pcall(strings.new_reader, "x")
  assert(not ok and msg:find("strings.new_reader is not supported", 1, true))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

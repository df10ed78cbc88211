-- nauthilus_misc with ip_scoping_v4_cidr 24 and ip_scoping_v6_cidr 64.
local misc = require("nauthilus_misc")

function nauthilus_call_filter(request)
  local s, err = misc.scoped_ip("lua_generic", "192.0.2.55")
  assert(s == "192.0.2.0/24" and err == nil, tostring(s))
  assert(misc.scoped_ip("192.0.2.55") == "192.0.2.0/24", "one-argument form")
  assert(misc.scoped_ip(request.client_ip) == "192.0.2.0/24")
  assert(misc.scoped_ip("generic", "2001:db8:1:2:3::4") == "2001:db8:1:2::/64")
  assert(misc.scoped_ip("metrics", "::ffff:192.0.2.9") == "192.0.2.0/24", "mapped v4 is v4")
  assert(misc.scoped_ip("anything-else", "192.0.2.55") == "192.0.2.0/24")
  assert(misc.scoped_ip("rwp", "192.0.2.55") == "192.0.2.55", "no brute-force scoping in backline")
  assert(misc.scoped_ip("tolerations", "192.0.2.55") == "192.0.2.55")
  assert(misc.scoped_ip("not an ip\r\n") == "not an ip\r\n", "non-addresses unchanged")
  assert(not pcall(misc.scoped_ip), "ip is required")

  assert(misc.get_country_name("DE") == "Germany")
  assert(misc.get_country_name("de") == "Germany")
  assert(misc.get_country_name("US") == "United States")
  for _, bad in ipairs({"ZZ", "XX", "DEU", "276", "", "D", "1A"}) do
    local name, cerr = misc.get_country_name(bad)
    assert(name == "Unknown" and cerr == nil, bad .. " gave " .. tostring(name))
  end
  assert(misc.get_country_name() == "Unknown")

  local ms, werr = misc.wait_random(10, 10)
  assert(ms == nil and werr == "invalid wait range")
  assert(select(2, misc.wait_random(-1, 5)) == "invalid wait range")
  assert(select(2, misc.wait_random(5, 1)) == "invalid wait range")
  ms, werr = misc.wait_random(0, 2)
  assert((ms == 0 or ms == 1) and werr == nil, tostring(ms))
  assert(not pcall(misc.wait_random, "a", 1))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

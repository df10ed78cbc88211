-- backline-test: standalone
-- time (gopher-lua-libs as Nauthilus scripts use it).
local t = require("testlib")
local time = require("time")

function nauthilus_call_filter(request)
  t.eq(rawget(_G, "time"), nil, "time is not a global")
  local u = time.unix()
  t.truthy(u > 1.6e9 and u < 1e11, "unix() is seconds since the epoch")
  local n = time.unix_nano()
  t.truthy(n > 1.6e18, "unix_nano() is nanoseconds")
  t.truthy(math.abs(n / 1e9 - u) < 5, "unix and unix_nano agree")

  -- sleep: fractions, and the clock moves on by at least that much
  local before = time.unix_nano()
  time.sleep(0.02)
  t.truthy(time.unix_nano() - before >= 20e6, "sleep(0.02) slept at least 20 ms")
  time.sleep(0) time.sleep(-1) time.sleep(0/0) -- no-ops
  t.raises(function() time.sleep("soon") end, "number expected")

  -- parse (the README's example) and errors
  local v, err = time.parse("Dec  2 03:33:05 2018", "Jan  2 15:04:05 2006")
  t.eq(err, nil) t.eq(v, 1543721585, "parse")
  t.eq(time.parse("2024-01-15T10:30:00.5Z", "2006-01-02T15:04:05Z07:00"), 1705314600.5, "fractional parse")
  local bad, perr = time.parse("not a date", "2006-01-02")
  t.eq(bad, nil) t.truthy(type(perr) == "string" and #perr > 0, "parse error text")
  t.raises(function() time.parse(nil, "x") end, "string expected")

  -- format (the README's example), defaults and errors
  local s, ferr = time.format(1543721585, "Jan  2 15:04:05 2006", "Europe/Moscow")
  t.eq(ferr, nil) t.eq(s, "Dec  2 06:33:05 2018", "format with a location")
  t.eq(time.format(0), "1970-01-01T00:00:00Z", "format defaults: RFC 3339, UTC")
  t.eq(time.format(1.5, "05.000", "UTC"), "01.500", "fractional seconds")
  local none, zerr = time.format(0, "2006", "Nowhere/Atlantis")
  t.eq(none, nil) t.truthy(zerr ~= nil, "unknown location")
  local none2, rerr = time.format(1e300)
  t.eq(none2, nil) t.truthy(rerr ~= nil, "out of range")
  t.eq(select("#", time.format(0, "2006", "../../../etc/passwd")), 2, "path-like location refused")
  return t.ACCEPT, t.OK
end

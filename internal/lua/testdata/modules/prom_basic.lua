-- backline-test: standalone
-- nauthilus_prometheus: spec §4.3, corpus §5 items 1-5 (what Lua can see;
-- TestPrometheusSeriesOnTheRegistry checks the exported values).
local t = require("testlib")
local prom = require("nauthilus_prometheus")

function nauthilus_call_filter(request)
  prom.create_counter_vec("lua_test_requests_total", "Requests seen", { "service" })
  -- a duplicate of the same kind is a silent no-op (first definition wins)
  prom.create_counter_vec("lua_test_requests_total", "other help", { "other" })
  prom.create_gauge_vec("lua_test_inflight", "In flight", { "service" })
  prom.create_histogram_vec("lua_test_duration_seconds", "Duration", { "step" })
  prom.create_summary_vec("lua_test_summary_seconds", "Summary", {})
  prom.create_counter_vec("lua_test_nolabels_total", "No labels")

  prom.increment_counter("lua_test_requests_total", { service = "imap" })
  prom.increment_counter("lua_test_requests_total", { service = "imap" })
  prom.touch_counter("lua_test_requests_total", { service = "pop3" })
  prom.increment_counter("lua_test_nolabels_total", {})
  prom.increment_counter("lua_test_nolabels_total")

  prom.increment_gauge("lua_test_inflight", { service = "imap" })
  prom.increment_gauge("lua_test_inflight", { service = "imap" })
  prom.decrement_gauge("lua_test_inflight", { service = "imap" })
  prom.set_gauge("lua_test_inflight", 5, { service = "smtp" })
  prom.add_gauge("lua_test_inflight", 2.5, { service = "smtp" })
  prom.sub_gauge("lua_test_inflight", 0.5, { service = "smtp" })

  local timer, err = prom.start_histogram_timer("lua_test_duration_seconds", { step = "filter" })
  t.eq(err, nil) t.eq(type(timer), "userdata", "timer")
  prom.stop_timer(timer)
  prom.stop_timer(timer) -- a second stop records nothing
  local st = prom.start_summary_timer("lua_test_summary_seconds", {})
  prom.stop_timer(st)

  -- a missing or extra label raises; array-style labels raise too
  t.raises(function() prom.increment_counter("lua_test_requests_total", {}) end, "has labels", "missing label")
  t.raises(function() prom.increment_counter("lua_test_requests_total", { service = "x", extra = "y" }) end, "has labels", "extra label")
  t.raises(function() prom.increment_counter("lua_test_requests_total", { "imap" }) end, "has labels", "array labels")
  t.raises(function() prom.increment_counter("lua_test_requests_total", "imap") end, "labels must be a table")
  t.raises(function() prom.set_gauge("lua_test_inflight", "five", { service = "smtp" }) end, "number expected")

  -- unknown names are silent; a timer on an unknown name returns nothing
  prom.increment_counter("lua_test_unknown_total", { a = "b" })
  prom.set_gauge("lua_test_unknown", 1, {})
  t.eq(select("#", prom.start_histogram_timer("lua_test_unknown_seconds", {})), 0, "timer on an unknown name")
  t.raises(function() prom.stop_timer(prom.start_histogram_timer("lua_test_unknown_seconds", {})) end,
    "timer expected", "stop_timer(nil)")
  t.raises(function() prom.stop_timer({}) end, "timer expected")
  -- a use of the wrong kind is an unknown name too
  prom.increment_counter("lua_test_inflight", { service = "imap" })

  -- a counter and a gauge with the same name: the second create raises
  t.raises(function() prom.create_gauge_vec("lua_test_requests_total", "x", { "service" }) end,
    "already exists as a counter")
  -- names and labels are validated
  t.raises(function() prom.create_counter_vec("bad name", "x") end, "invalid metric name")
  t.raises(function() prom.create_counter_vec("lua_test_x_total", "x", { "bad-label" }) end, "invalid label name")
  t.raises(function() prom.create_counter_vec("lua_test_y_total", "x", { "a", "a" }) end, "given twice")
  t.raises(function() prom.create_counter_vec("lua_test_z_total", "x", { "__reserved" }) end, "invalid label name")
  t.raises(function() prom.create_counter_vec("lua_test_w_total", "x", { a = "b" }) end, "list of strings")
  t.raises(function() prom.create_counter_vec("backline_lua_dropped", "x") end, "reserved")
  t.raises(function() prom.create_gauge_vec("go_goroutines", "x") end, "reserved")
  return t.ACCEPT, t.OK
end

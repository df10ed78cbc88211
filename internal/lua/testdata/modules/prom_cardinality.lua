-- A hostile script: one label value per request data item, a million of
-- them. Only maxLuaMetricSeries series are kept; the rest are counted as
-- dropped (TestPrometheusCardinalityIsBounded).
local prom = require("nauthilus_prometheus")

function nauthilus_call_filter(request)
  prom.create_counter_vec("lua_test_per_user_total", "Per user", { "user" })
  for i = 1, 1000000 do
    prom.increment_counter("lua_test_per_user_total", { user = "u" .. i })
  end
  prom.increment_counter("lua_test_per_user_total", { user = "u1" }) -- a kept series still counts
  prom.increment_counter("lua_test_per_user_total", { user = string.rep("x", 5000) }) -- too long
  prom.increment_counter("lua_test_per_user_total", { user = "\255\254" }) -- not UTF-8
  return false, 0
end

-- A careless script labels a series with the request's password: it is
-- redacted before it reaches /metrics (TestPrometheusNeverExportsThePassword).
local prom = require("nauthilus_prometheus")

function nauthilus_call_filter(request)
  prom.create_counter_vec("lua_test_careless_total", "careless", { "secret", "user" })
  prom.increment_counter("lua_test_careless_total", { secret = "pw=" .. request.password, user = request.username })
  return false, 0
end

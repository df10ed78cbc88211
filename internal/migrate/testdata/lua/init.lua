-- A Nauthilus init script: creates the metric the filters count in.
local N = "init"

local nauthilus_prometheus = require("nauthilus_prometheus")

function nauthilus_run_hook(logging)
  local result = {}
  result.level = "info"
  result.caller = N .. ".lua"

  nauthilus_prometheus.create_counter_vec("migrated_logins_total", "Logins seen", { "service" })
  result.status = "finished"

  return result
end

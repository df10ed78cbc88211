-- A script that sleeps past its script_timeout: the sleep ends at the
-- deadline with an error (TestTimeSleepHonoursTheScriptTimeout).
local time = require("time")

function nauthilus_call_filter(request)
  pcall(time.sleep, 3600) -- pcall cannot keep the run alive
  time.sleep(3600)
  return false, 0
end

-- cache_update whose fn sleeps past script_timeout: the run times out and
-- the key is released (TestCacheUpdateReleasesTheKeyAtTheTimeout).
local cache = require("nauthilus_cache")
local time = require("time")

function nauthilus_call_filter(request)
  cache.cache_update("stuck", function(old)
    time.sleep(3600)
    return "never"
  end)
  return false, 0
end

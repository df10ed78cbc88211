-- Filter run many times in parallel: each run adds 1 to a shared counter
-- through cache_update and pushes its user name.
local cache = require("nauthilus_cache")

function nauthilus_call_filter(request)
  cache.cache_update("hits", function(old)
    return (old or 0) + 1
  end)
  cache.cache_push("users", request.username)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

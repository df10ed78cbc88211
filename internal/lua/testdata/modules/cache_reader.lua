-- Filter: reports the shared counter and changes a returned table (which
-- must not change the cache).
local cache = require("nauthilus_cache")

function nauthilus_call_filter(request)
  local v = cache.cache_get("hits")
  nauthilus_builtin.custom_log_add("hits", v or -1)
  local l = cache.cache_get("list")
  if l then table.insert(l, "mutated") end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

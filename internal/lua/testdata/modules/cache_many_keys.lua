-- backline-test: standalone cache_max=1MiB
-- 50,000 tiny cache entries: the cache keeps at most what its bound
-- allows (each entry counted with its overhead), evicting the oldest.
local t = require("testlib")
local cache = require("nauthilus_cache")

function nauthilus_call_filter(request)
  for i = 1, 50000 do
    cache.cache_set("k" .. i, i)
  end
  local n = cache.cache_size()
  t.truthy(n > 1000 and n < 6000, "entries kept: " .. n)
  t.eq(cache.cache_get("k50000"), 50000, "newest kept")
  t.eq(cache.cache_get("k1"), nil, "oldest evicted")
  return t.ACCEPT, t.OK
end

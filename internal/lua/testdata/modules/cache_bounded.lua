-- backline-test: standalone cache_max=64KiB
-- nauthilus_cache holds at most Host.CacheMaxBytes (64 MiB by default, 64
-- KiB here): expired entries go first, then the least recently used; one
-- value larger than the whole cache is refused.
local t = require("testlib")
local cache = require("nauthilus_cache")

function nauthilus_call_filter(request)
  local chunk = string.rep("x", 10 * 1024)
  cache.cache_set("expiring", chunk, 5)
  cache.cache_set("a", chunk)
  cache.cache_set("b", chunk)
  cache.cache_set("c", chunk)
  cache.cache_set("d", chunk)
  test_advance_clock(6) -- "expiring" has expired but still takes room
  t.eq(cache.cache_get("a"), chunk, "a is now the most recently used")
  cache.cache_set("e", chunk)
  cache.cache_set("f", chunk)
  -- 6 x 10 KiB do not fit next to each other with the expired one: it went
  t.eq(cache.cache_exists("a"), true, "recently read entry kept")
  t.eq(cache.cache_exists("f"), true)
  cache.cache_set("g", chunk)
  cache.cache_set("h", chunk)
  t.eq(cache.cache_exists("b"), false, "least recently used entry evicted")
  t.truthy(cache.cache_size() <= 6, "size bounded")

  -- one value larger than the whole cache raises and stores nothing
  t.raises(function() cache.cache_set("huge", string.rep("y", 100 * 1024)) end, "larger than the whole cache")
  t.eq(cache.cache_exists("huge"), false)
  -- a list that outgrows the cache is refused too
  for i = 1, 5 do cache.cache_push("list", chunk) end
  t.raises(function() for i = 1, 10 do cache.cache_push("list", chunk) end end, "larger than the whole cache")
  -- update results are bounded the same way
  t.raises(function() cache.cache_update("u", function() return string.rep("z", 100 * 1024) end) end,
    "larger than the whole cache")
  -- a cycle or a very deep table is refused
  local deep = {} for _ = 1, 100 do deep = { deep } end
  t.raises(function() cache.cache_set("deep", deep) end, "nested more than")
  return t.ACCEPT, t.OK
end

-- backline-test: standalone
-- nauthilus_cache: spec §4.4, corpus §5 items 1, 2 and 4 (one request).
local t = require("testlib")
local cache = require("nauthilus_cache")

function nauthilus_call_filter(request)
  cache.cache_flush()
  -- set / get / exists / delete, with the (value, nil) convention
  local res, err = cache.cache_set("a", { x = 1, list = { 1, 2 } })
  t.eq(res, "OK", "cache_set result") t.eq(err, nil, "cache_set err")
  local v, e = cache.cache_get("a")
  t.eq(v.x, 1) t.eq(#v.list, 2) t.eq(e, nil)
  v.x = 99
  t.eq(cache.cache_get("a").x, 1, "returned tables are copies")
  t.eq(cache.cache_get("missing"), nil, "missing key")
  t.eq(cache.cache_exists("a"), true) t.eq(cache.cache_exists("missing"), false)
  t.eq(cache.cache_delete("a"), true, "delete existing")
  t.eq(cache.cache_delete("a"), false, "delete missing")
  t.eq(cache.cache_exists("a"), false)

  -- TTL: 1 s, then the clock moves on by 1.5 s
  cache.cache_set("short", "v", 1)
  cache.cache_set("forever", "v")
  cache.cache_set("zero", "v", 0)
  cache.cache_set("frac", "v", 1.9) -- truncated to 1 s
  cache.cache_set("nan", "v", 0/0) -- no expiry
  cache.cache_set("huge_ttl", "v", 1e300) -- capped, not overflowed into the past
  cache.cache_set("neg", "v", -5) -- no expiry
  t.eq(cache.cache_size(), 7, "size before expiry")
  test_advance_clock(1.5)
  t.eq(cache.cache_get("short"), nil, "expired get")
  t.eq(cache.cache_exists("short"), false, "expired exists")
  t.eq(cache.cache_get("frac"), nil, "fractional ttl truncated")
  t.eq(cache.cache_get("forever"), "v")
  t.eq(cache.cache_get("zero"), "v", "ttl 0 never expires")
  t.eq(cache.cache_size(), 5, "size excludes expired")
  local keys = cache.cache_keys()
  table.sort(keys)
  t.deq(keys, { "forever", "huge_ttl", "nan", "neg", "zero" }, "keys exclude expired")

  -- push / pop_all
  t.eq(cache.cache_push("q", "one"), 1)
  t.eq(cache.cache_push("q", { n = 2 }), 2)
  t.eq(cache.cache_push("q", 3), 3)
  local all = cache.cache_pop_all("q")
  t.eq(#all, 3) t.eq(all[1], "one") t.eq(all[2].n, 2) t.eq(all[3], 3)
  t.eq(cache.cache_exists("q"), false, "pop_all removes the key")
  t.deq(cache.cache_pop_all("q"), {}, "pop_all of a missing key")
  cache.cache_set("scalar", "s")
  t.deq(cache.cache_pop_all("scalar"), { "s" }, "pop_all of a scalar")
  cache.cache_set("scalar", "s")
  t.eq(cache.cache_push("scalar", "t"), 2, "push onto a scalar")
  t.deq(cache.cache_pop_all("scalar"), { "s", "t" })

  -- update
  local n = cache.cache_update("counter", function(old)
    t.eq(old, nil, "update of a missing key sees nil")
    return 1
  end)
  t.eq(n, 1)
  t.eq(cache.cache_update("counter", function(old) return old + 1 end), 2)
  t.eq(cache.cache_get("counter"), 2)
  -- an error in fn propagates, the old value stays
  t.raises(function()
    cache.cache_update("counter", function(old) error("boom") end)
  end, "cache_update error: ", "error in fn")
  t.eq(cache.cache_get("counter"), 2, "failed update keeps the old value")
  -- a failed update releases the key: a second update works
  t.eq(cache.cache_update("counter", function(old) return old + 1 end), 3)
  -- an update keeps the entry's expiry
  cache.cache_set("ttl", 1, 10)
  cache.cache_update("ttl", function(old) return old + 1 end)
  test_advance_clock(11)
  t.eq(cache.cache_get("ttl"), nil, "update kept the TTL")
  -- writing the key being updated from fn is an error, not a deadlock
  t.raises(function()
    cache.cache_update("counter", function(old) cache.cache_set("counter", 0) return old end)
  end, "is being changed by this script's cache_update")
  t.raises(function()
    cache.cache_update("counter", function(old) return cache.cache_update("counter", function(o) return o end) end)
  end, "already being updated")
  -- reads and other keys are fine inside fn
  t.eq(cache.cache_update("counter", function(old)
    cache.cache_set("other", cache.cache_get("counter"))
    return old
  end), 3)
  t.eq(cache.cache_get("other"), 3)

  -- argument errors
  t.raises(function() cache.cache_set({}, 1) end, "string expected")
  t.raises(function() cache.cache_set("k", 1, "soon") end, "number expected")
  t.raises(function() cache.cache_update("k", 5) end, "function expected")
  local cyc = {} cyc[1] = cyc
  t.raises(function() cache.cache_set("cyc", cyc) end, "cycle")

  cache.cache_flush()
  t.eq(cache.cache_size(), 0, "flush")
  t.deq(cache.cache_keys(), {}, "keys after flush")
  return t.ACCEPT, t.OK
end

-- A filter that writes to nauthilus_cache, nauthilus_prometheus and
-- nauthilus_psnet and sends mail; run by dryrun_test.go both as a real run
-- and as a dry run (explain). It finds out which one it is in by reading
-- back a key it just wrote, and checks the documented dry-run results.
local t = require("testlib")
local cache = require("nauthilus_cache")
local prom = require("nauthilus_prometheus")
local psnet = require("nauthilus_psnet")
local mail = require("nauthilus_mail")

function nauthilus_call_filter(request)
  -- reads still read in a dry run: "seen" is what earlier real runs wrote.
  local seen = cache.cache_get("seen")

  local ok = cache.cache_set("probe", "written", 60)
  t.eq(ok, "OK", "cache_set result")
  local dry = cache.cache_get("probe") == nil

  prom.create_counter_vec("lua_dryrun_logins_total", "Logins seen", {"service"})
  prom.increment_counter("lua_dryrun_logins_total", {service = "imap"})
  prom.set_gauge("lua_dryrun_gauge", 7, {})
  local timer = prom.start_histogram_timer("lua_dryrun_seconds", {})
  if timer then prom.stop_timer(timer) end

  local n = cache.cache_push("users", request.username)
  local count = cache.cache_update("seen", function(old) return (old or 0) + 1 end)
  t.eq(count, (seen or 0) + 1, "cache_update returns fn's result")

  psnet.register_connection_target("127.0.0.1:1", "remote", "dry run test")

  -- the server is not in lua.config.mail.allowed_hosts: a real send fails.
  local err = mail.send_mail({server = "127.0.0.1", port = 1, from = "a@example.org",
    to = {"b@example.org"}, subject = "s", body = "b"})
  local bad = mail.send_mail({server = "127.0.0.1", port = "x", to = {}})
  t.eq(bad, "'port' must be a number", "send_mail checks its parameters in a dry run too")

  if dry then
    t.eq(err, nil, "send_mail in a dry run")
    local users = cache.cache_pop_all("users")
    t.eq(n, #users + 1, "cache_push's count in a dry run")
    t.eq(cache.cache_delete("users"), #users > 0, "cache_delete tells whether the key exists")
    t.eq(#cache.cache_pop_all("users"), #users, "cache_pop_all leaves the list in a dry run")
    nauthilus_builtin.custom_log_add("mode", "dry")
  else
    t.truthy(err ~= nil, "a real send_mail to a host not allowed fails")
    nauthilus_builtin.custom_log_add("mode", "real")
  end
  cache.cache_delete("probe")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

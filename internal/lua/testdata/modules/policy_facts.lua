-- nauthilus_policy_facts in a filter, as Nauthilus's bundled filters use it:
-- facts land in context "policy_facts" (namespace -> key -> value), the
-- public variants add policy_fact_<ns>_<key> log fields, status_message sets
-- the status message. The Go test checks the log fields and the message.
local policy_facts = require("nauthilus_policy_facts")
local nauthilus_context = require("nauthilus_context")

local function raises(fn, text)
  local ok, err = pcall(fn)
  if ok then error("did not raise, want " .. text, 2) end
  if not string.find(tostring(err), text, 1, true) then
    error("raised " .. tostring(err) .. ", want " .. text, 2)
  end
end

local function eq(got, want, what)
  if got ~= want then error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want), 2) end
end

function nauthilus_call_filter(request)
  -- A library: found through require only, not as a global.
  eq(rawget(_G, "nauthilus_policy_facts"), nil, "global")
  eq(nauthilus_policy_facts, nil, "global through the environment")

  policy_facts.set("monitoring", "backend", "imap-a")
  policy_facts.set_public("monitoring", "healthy", 2)
  policy_facts.set_public_log("monitoring", "only_logged", "yes")
  policy_facts.emit("monitoring", "selected", true)
  policy_facts.emit_public("monitoring", "server", "192.0.2.10", { status_message = "chosen" })
  policy_facts.set_many("affinity", { hit = false, ttl = 900 })
  policy_facts.set_many_public("affinity", { source = "redis" })
  policy_facts.emit_many("monitoring", { candidates = { "imap-a", "imap-b" }, count = 2 })
  policy_facts.emit_many_public("geo", { country = "DE", [1] = "first" })
  policy_facts.status_message("monitoring", "Backend chosen")

  local facts = nauthilus_context.context_get("policy_facts")
  eq(type(facts), "table", "policy_facts")
  eq(facts.monitoring.backend, "imap-a", "set")
  eq(facts.monitoring.healthy, 2, "set_public")
  eq(facts.monitoring.only_logged, nil, "set_public_log stores nothing")
  eq(facts.monitoring.selected, true, "emit")
  eq(facts.monitoring.server, "192.0.2.10", "emit_public")
  eq(facts.affinity.hit, false, "set_many false")
  eq(facts.affinity.ttl, 900, "set_many")
  eq(facts.affinity.source, "redis", "set_many_public")
  eq(facts.monitoring.candidates[2], "imap-b", "emit_many list")
  eq(facts.monitoring.count, 2, "emit_many")
  eq(facts.geo.country, "DE", "emit_many_public")
  eq(facts.geo["1"], "first", "number key stored as a string key")
  eq(facts.monitoring.status_message, "Backend chosen", "status_message fact")

  -- Read-modify-write keeps other context keys and other namespaces.
  nauthilus_context.context_set("unrelated", "kept")
  policy_facts.set("monitoring", "backend", "imap-b")
  facts = nauthilus_context.context_get("policy_facts")
  eq(facts.monitoring.backend, "imap-b", "overwrite")
  eq(facts.affinity.ttl, 900, "other namespace kept")
  eq(nauthilus_context.context_get("unrelated"), "kept", "other key")
  -- set(ns, key, nil) removes the fact.
  policy_facts.set("monitoring", "backend", nil)
  eq(nauthilus_context.context_get("policy_facts").monitoring.backend, nil, "removed")
  -- A non-table value under policy_facts (another script's) is replaced.
  nauthilus_context.context_set("policy_facts", "garbage")
  policy_facts.set("fresh", "k", "v")
  eq(nauthilus_context.context_get("policy_facts").fresh.k, "v", "replaced garbage")

  -- Errors raise before anything is stored or logged.
  raises(function() policy_facts.set() end, "bad argument #1")
  raises(function() policy_facts.set("ns") end, "bad argument #2")
  raises(function() policy_facts.set("", "k", 1) end, "namespace must not be empty")
  raises(function() policy_facts.set("ns", "", 1) end, "fact key in namespace \"ns\" is empty")
  raises(function() policy_facts.set_many("ns", "x") end, "bad argument #2")
  raises(function() policy_facts.set_many("ns", { [true] = 1 }) end, "fact keys must be strings, got a boolean")
  raises(function() policy_facts.emit("ns", "k", print) end, "attribute \"lua.plugin.ns.k\": value has type function")
  raises(function() policy_facts.emit("ns", "k", nil) end, "value is missing")
  raises(function() policy_facts.emit("ns", "k", true, "details") end, "details must be a table")
  raises(function() policy_facts.emit_many("ns", { ok = 1, bad = { 1 } }) end, "lua.plugin.ns.bad")
  raises(function() policy_facts.emit(string.rep("n", 129), "k", true) end, "a namespace of 129 bytes, at most 128")
  raises(function() policy_facts.set_public("ns", string.rep("k", 1e6), true) end, "a fact key of 1000000 bytes")
  raises(function() policy_facts.set_many("ns", { [string.rep("k", 200)] = 1 }) end, "a fact key of 200 bytes")
  raises(function() policy_facts.status_message("ns") end, "bad argument #2")
  -- The failed emit_many stored nothing (checked first).
  eq(nauthilus_context.context_get("policy_facts").ns, nil, "nothing stored by a failed call")
  -- set (no emit) accepts any value, as a context value.
  policy_facts.set("ns", "fn", { nested = { deep = true } })
  eq(nauthilus_context.context_get("policy_facts").ns.fn.nested.deep, true, "nested table")

  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

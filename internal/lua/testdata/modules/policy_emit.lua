-- nauthilus_policy in a filter: valid attributes of every registry type are
-- accepted (and dropped: backline has no policy engine); every malformed
-- one raises, as an unregistered or mistyped attribute does in Nauthilus.
local nauthilus_policy = require("nauthilus_policy")

local function raises(fn, text)
  local ok, err = pcall(fn)
  if ok then error("did not raise, want " .. text, 2) end
  if not string.find(tostring(err), text, 1, true) then
    error("raised " .. tostring(err) .. ", want " .. text, 2)
  end
end

function nauthilus_call_filter(request)
  -- The global is the same module as require's.
  assert(nauthilus_policy == _G.nauthilus_policy, "global and require differ")

  nauthilus_policy.emit_attribute({ id = "lua.plugin.t.flag", value = true })
  nauthilus_policy.emit_attribute({ id = "lua.plugin.t.name", value = "imap-a" })
  nauthilus_policy.emit_attribute({ id = "lua.plugin.t.count", value = 3 })
  nauthilus_policy.emit_attribute({ id = "lua.plugin.t.ip", value = "192.0.2.1" })
  nauthilus_policy.emit_attribute({ id = "lua.plugin.t.list", value = { "a", "b" } })
  nauthilus_policy.emit_attribute({ id = "lua.plugin.t.empty", value = {} })
  nauthilus_policy.emit_attribute({
    id = "lua.plugin.t.rejected", value = true,
    details = { status_message = "Policy violation", score = 7, final = false },
  })
  nauthilus_policy.emit_attributes({
    { id = "lua.plugin.t.a", value = 1 },
    { id = "lua.plugin.t.b", value = "x" },
  })
  nauthilus_policy.emit_attributes({})

  raises(function() nauthilus_policy.emit_attribute() end, "bad argument #1")
  raises(function() nauthilus_policy.emit_attribute("lua.plugin.t.x") end, "bad argument #1")
  raises(function() nauthilus_policy.emit_attribute({ value = true }) end, "id must be a string")
  raises(function() nauthilus_policy.emit_attribute({ id = 5, value = true }) end, "id must be a string")
  raises(function() nauthilus_policy.emit_attribute({ id = "", value = true }) end, "id must not be empty")
  raises(function() nauthilus_policy.emit_attribute({ id = string.rep("x", 257), value = true }) end, "at most 256")
  raises(function() nauthilus_policy.emit_attribute({ id = "lua.plugin.t.x" }) end, "value is missing")
  raises(function() nauthilus_policy.emit_attribute({ id = "lua.plugin.t.x", value = print }) end, "has type function")
  raises(function() nauthilus_policy.emit_attribute({ id = "lua.plugin.t.x", value = { 1, 2 } }) end, "array of strings")
  raises(function() nauthilus_policy.emit_attribute({ id = "lua.plugin.t.x", value = { a = "b" } }) end, "array of strings")
  raises(function() nauthilus_policy.emit_attribute({ id = "lua.plugin.t.x", value = { [1] = "a", [3] = "c" } }) end, "array of strings")
  raises(function() nauthilus_policy.emit_attribute({ id = "lua.plugin.t.x", value = true, details = "no" }) end, "details must be a table")
  raises(function() nauthilus_policy.emit_attribute({ id = "lua.plugin.t.x", value = true, details = { [1] = "a" } }) end, "details keys must be strings")
  raises(function() nauthilus_policy.emit_attribute({ id = "lua.plugin.t.x", value = true, details = { m = {} } }) end, "detail \"m\" has type table")
  local many = {}
  for i = 1, 65 do many["d" .. i] = i end
  raises(function() nauthilus_policy.emit_attribute({ id = "lua.plugin.t.x", value = true, details = many }) end, "65 details, at most 64")

  -- emit_attributes is all or nothing: one bad entry names its index.
  raises(function()
    nauthilus_policy.emit_attributes({ { id = "lua.plugin.t.ok", value = 1 }, { id = "lua.plugin.t.bad" } })
  end, "entry 2: attribute \"lua.plugin.t.bad\": value is missing")
  raises(function() nauthilus_policy.emit_attributes({ "x" }) end, "entry 1 is a string, want a table")
  local batch = {}
  for i = 1, 1025 do batch[i] = { id = "lua.plugin.t.n", value = i } end
  raises(function() nauthilus_policy.emit_attributes(batch) end, "1025 attributes, at most 1024")

  -- No registry scripts and no master-user emission in backline.
  raises(function() nauthilus_policy.register_attribute({ id = "lua.plugin.t.flag" }) end,
    "nauthilus_policy.register_attribute is not supported by backline")
  raises(function() nauthilus_policy.emit_master_user("admin") end,
    "nauthilus_policy.emit_master_user is not supported by backline")

  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

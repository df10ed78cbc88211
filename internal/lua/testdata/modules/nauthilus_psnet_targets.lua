-- nauthilus_psnet: registration never raises; counts come from /proc/net/tcp.
local psnet = require("nauthilus_psnet")

function nauthilus_call_filter(request)
  -- hostile and wrong arguments are ignored, never raised
  psnet.register_connection_target()
  psnet.register_connection_target({}, "remote", "x")
  psnet.register_connection_target("127.0.0.1:1", "sideways", "x")
  psnet.register_connection_target("127.0.0.1:1\r\n", 7, nil)
  psnet.register_connection_target(string.rep("x", 100000), "remote", "too long")
  assert(select(2, psnet.get_connection_target(string.rep("x", 100000))) == "connection target is not registered")
  -- registered targets
  psnet.register_connection_target("127.0.0.1:{{PORT}}", "remote", "backend")
  psnet.register_connection_target("127.0.0.1:{{PORT}}", "remote", "again") -- idempotent
  psnet.register_connection_target("localhost:{{PORT}}", "local", "by name")
  local n, err = psnet.get_connection_target("127.0.0.1:{{PORT}}")
  assert(err == nil and n == {{WANT}}, tostring(n) .. " " .. tostring(err))
  n, err = psnet.get_connection_target("127.0.0.1:2")
  assert(n == nil and err == "connection target is not registered")
  n, err = psnet.get_connection_target("localhost:{{PORT}}")
  assert(n == nil and err:find("must be ip:port"))
  assert(not pcall(psnet.get_connection_target))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

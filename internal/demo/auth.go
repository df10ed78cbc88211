package demo

// demoUsers is the passwd-file behind the demo's auth endpoints: the same
// account the fake backends accept, plus a second one so user-hash routing
// has something to show. Plain passwords are fine for throw-away users.
const demoUsers = `demo:{PLAIN}demo-password
alice:{PLAIN}alice-password
`

// demoFilter is a Nauthilus-style filter: it sends IMAP and POP3 logins to
// the first healthy backend of the request's protocol and tags the answer
// with the backend's name, so /api/v1/auth/header shows what Lua decided.
// Logins of other protocols fall through to auth.nginx.default_policy.
const demoFilter = `
local nauthilus_backend = require("nauthilus_backend")

function nauthilus_call_filter(request)
  if not request.authenticated then
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
  end
  for _, server in ipairs(nauthilus_backend.get_backend_servers()) do
    if server.protocol == request.protocol then
      nauthilus_backend.select_backend_server(server.host, server.port)
      local result = nauthilus_backend_result.new()
      result:attributes({ backend_name = server.name })
      nauthilus_backend.apply_backend_result(result)
      nauthilus_builtin.custom_log_add("demo_backend", server.name)
      break
    end
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`

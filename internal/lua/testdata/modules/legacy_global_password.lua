-- A 1.0-era Lua password backend using the global `nauthilus` table:
-- constants work; the filter-only backend functions are not available here.
local function raises(fn, text)
  local ok, err = pcall(fn)
  if ok then error("did not raise, want " .. text, 2) end
  if not string.find(tostring(err), text, 1, true) then
    error("raised " .. tostring(err) .. ", want " .. text, 2)
  end
end

function nauthilus_backend_verify_password(request)
  raises(function() nauthilus.select_backend_server("127.0.0.1", 143) end, "select_backend_server")
  nauthilus.custom_log_add("legacy_backend", "yes")
  local b = nauthilus_backend_result.new()
  b:authenticated(request.password == "right")
  b:user_found(true)
  b:account_field("account")
  b:attributes({ account = request.username })
  return nauthilus.BACKEND_RESULT_OK, b
end

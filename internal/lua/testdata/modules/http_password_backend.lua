-- In a Lua password script nauthilus_http_request is bound (the auth
-- request) and nauthilus_http_response is the empty placeholder.
local http_request = require("nauthilus_http_request")
local http_response = require("nauthilus_http_response")

function nauthilus_backend_verify_password(request)
  if http_request.get_http_method() ~= "POST" then error("method") end
  if http_request.get_http_request_header("x-foo")[1] ~= "a" then error("header") end
  if next(http_response) ~= nil then error("http_response is not {}") end
  local ok, err = pcall(function() http_response.set_http_response_header("X-A", "b") end)
  -- gopher-lua words it "attempt to call a non-function object".
  if ok or not string.find(tostring(err), "attempt to call", 1, true) then
    error("placeholder call: " .. tostring(err))
  end
  local b = nauthilus_backend_result.new()
  b:user_found(true)
  b:authenticated(true)
  return nauthilus_builtin.BACKEND_RESULT_OK, b
end

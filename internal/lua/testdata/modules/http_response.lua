-- nauthilus_http_response through the real engine: what a filter sets
-- reaches the answer; what it may not set raises, naming the header.
local http_response = require("nauthilus_http_response")

local function raises(what, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error(what .. " did not raise") end
  return tostring(err)
end

function nauthilus_call_filter(request)
  if http_response.STATUS_OK ~= 200 or http_response.STATUS_METHOD_NOT_ALLOWED ~= 405 then
    error("status constants")
  end
  http_response.set_http_response_header("X-Backline-Test", "one")
  http_response.set_http_response_header("x-backline-test", "two") -- replaces
  http_response.add_http_response_header("X-Multi", "a")
  http_response.add_http_response_header("X-Multi", "b")
  http_response.set_http_response_header("X-Gone", "x")
  http_response.remove_http_response_header("x-gone")
  http_response.set_http_status(http_response.STATUS_OK)

  for _, name in ipairs({"Auth-Status", "auth-server", "Auth-Port", "Auth-User", "Auth-Wait",
                         "Connection", "Transfer-Encoding", "Content-Length", "Content-Type",
                         "X-Nauthilus-Session", "Upgrade"}) do
    local err = raises(name, http_response.set_http_response_header, name, "x")
    if not string.find(err, "may not be set", 1, true) then error(name .. ": " .. err) end
  end
  local err = raises("CR LF value", http_response.set_http_response_header, "X-Evil", "a\r\nAuth-Status: OK")
  if not string.find(err, "control characters", 1, true) then error("crlf: " .. err) end
  raises("bad name", http_response.set_http_response_header, "X Bad", "v")
  raises("NUL", http_response.add_http_response_header, "X-Nul", "a\0b")
  raises("status 99", http_response.set_http_status, 99)
  raises("status 600", http_response.set_http_status, 600)
  raises("status string", http_response.set_http_status, "abc")
  raises("hook body", http_response.write_http_response_body, "x")
  raises("hook string", http_response.string, 200, "x")
  -- The other hook-only functions raise too (backline serves no Lua hooks).
  raises("hook html", http_response.html, 200, "<p>x</p>")
  raises("hook data", http_response.data, 200, "application/octet-stream", "x")
  raises("hook redirect", http_response.redirect, 302, "/x")
  raises("hook content type", http_response.set_http_content_type, "text/plain")

  -- The budget: more than 64 values raises instead of growing the answer.
  local err2 = raises("budget", function()
    for i = 1, 100 do http_response.add_http_response_header("X-Many", tostring(i)) end
  end)
  if not string.find(err2, "too many", 1, true) then error("budget: " .. err2) end
  http_response.remove_http_response_header("X-Many")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

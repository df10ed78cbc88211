-- Echoes what nauthilus_http_request saw into response headers and
-- attributes, and sets a status when the request asks for one.
local http_request = require("nauthilus_http_request")
local http_response = require("nauthilus_http_response")

function nauthilus_call_filter(request)
  local tags = http_request.get_http_request_header("X-Tag")
  http_response.set_http_response_header("X-Seen-Tags", table.concat(tags, ","))
  http_response.set_http_response_header("X-Seen-Method", http_request.get_http_method())
  http_response.set_http_response_header("X-Seen-Path", http_request.get_http_path())
  local body = http_request.get_http_request_body()
  http_response.set_http_response_header("X-Seen-Body-Bytes", tostring(#body))
  local all = http_request.get_all_http_request_headers()
  if all["auth-pass"] ~= nil or all["authorization"] ~= nil then
    error("a credential header reached the script")
  end
  local want = http_request.get_http_query_param("status")
  if want ~= "" then
    http_response.set_http_status(tonumber(want))
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

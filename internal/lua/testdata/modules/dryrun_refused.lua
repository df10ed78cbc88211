-- A filter whose outbound HTTP POST a dry run refuses (the script takes
-- its error path) while a GET is sent. {{URL}} is a 127.0.0.1 test server.
local http = require("glua_http")

function nauthilus_call_filter(request)
  local got, gerr = http.get("{{URL}}/hello")
  local posted, perr = http.post("{{URL}}/echo", {body = "x"})
  local batch, berrs = http.request_batch({{"DELETE", "{{URL}}/echo"}, {"GET", "{{URL}}/hello"}})
  nauthilus_builtin.custom_log_add("get", got and got.body or tostring(gerr))
  nauthilus_builtin.custom_log_add("post", posted and posted.body or tostring(perr))
  nauthilus_builtin.custom_log_add("batch_delete", berrs and berrs[1] or batch[1].body)
  nauthilus_builtin.custom_log_add("batch_get", batch[2] and batch[2].body or "none")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

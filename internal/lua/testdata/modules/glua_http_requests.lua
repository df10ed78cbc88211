-- glua_http (cjoudrey/gluahttp API) against in-process servers on 127.0.0.1.
local http = require("glua_http")

function nauthilus_call_filter(request)
  local resp, err = http.get("{{BASE}}/hello")
  assert(err == nil, tostring(err))
  assert(resp.status_code == 200 and resp.body == "hello" and resp.body_size == 5)
  assert(resp.headers["X-Test"] == "a, b", tostring(resp.headers["X-Test"]))
  assert(resp.cookies.session == "s1")
  assert(resp.url == "{{BASE}}/hello")

  -- request(method, url, options): query, headers, body, cookies, auth
  resp, err = http.request("post", "{{BASE}}/echo", {
    query = "page=1&x=2", headers = {["X-Custom"] = "v"}, body = "payload",
    cookies = {c = "cv"}, auth = {user = "u", pass = "p"},
  })
  assert(err == nil, tostring(err))
  assert(resp.body == "POST|page=1&x=2|v|payload||u:p|cv|backline-lua", resp.body)
  -- form sets the content type
  resp = http.put("{{BASE}}/echo", {form = "a=1"})
  assert(resp.body:find("^PUT||.-|a=1|application/x%-www%-form%-urlencoded|"), resp.body)
  assert(http.patch("{{BASE}}/echo").body:find("^PATCH"))
  assert(http.delete("{{BASE}}/echo").body:find("^DELETE"))
  resp = http.head("{{BASE}}/hello")
  assert(resp.status_code == 200 and resp.body == "")
  assert(http.get("{{BASE}}/status").status_code == 418)

  -- https with the test CA
  resp, err = http.get("{{TLSBASE}}/hello")
  assert(err == nil and resp.body == "hello", tostring(err))

  -- redirects: followed to allowed hosts only, at most max_redirects
  resp = http.get("{{BASE}}/redirect-ok")
  assert(resp.body == "hello" and resp.url == "{{BASE}}/hello")
  resp, err = http.get("{{BASE}}/redirect-out")
  assert(resp == nil and err:find("redirect to evil.example:80 is not allowed"), tostring(err))
  resp, err = http.get("{{BASE}}/redirect-loop")
  assert(resp == nil and err:find("stopped after 3 redirects"), tostring(err))

  -- only allowed hosts, refused before connecting
  resp, err = http.get("http://127.0.0.2:{{PORT}}/hello")
  assert(resp == nil and err:find("127.0.0.2:{{PORT}} is not allowed (lua.config.http_client.allowed_hosts)", 1, true), tostring(err))
  resp, err = http.get("http://example.com/")
  assert(resp == nil and err:find("is not allowed"), tostring(err))
  resp, err = http.get("file:///etc/passwd")
  assert(resp == nil and err == "only http and https URLs are supported")
  resp, err = http.get("http://%zz")
  assert(resp == nil and err:find("invalid url"))

  -- bounded bodies: by Content-Length and while streaming
  resp, err = http.get("{{BASE}}/big")
  assert(resp == nil and err:find("larger than lua.config.http_client.max_response_body"), tostring(err))
  resp, err = http.get("{{BASE}}/big-chunked")
  assert(resp == nil and err:find("larger than lua.config.http_client.max_response_body"), tostring(err))

  -- the script's own timeout
  resp, err = http.get("{{BASE}}/slow", {timeout = "100ms"})
  assert(resp == nil and err:find("request stopped after 100ms"), tostring(err))
  resp, err = http.get("{{BASE}}/slow", {timeout = 0.1})
  assert(resp == nil and err:find("request stopped"), tostring(err))
  resp, err = http.get("{{BASE}}/hello", {timeout = "soon"})
  assert(resp == nil and err:find("invalid timeout"))

  -- header injection is refused
  resp, err = http.get("{{BASE}}/echo", {headers = {["X-Custom"] = "v\r\nX-Evil: 1"}})
  assert(resp == nil and err:find("must not contain CR"), tostring(err))
  resp, err = http.request("GET\r\nX", "{{BASE}}/echo")
  assert(resp == nil and err ~= nil)
  resp, err = http.get("{{BASE}}/echo", {query = "a=1\r\nX-Evil: 1"})
  assert(resp == nil and err:find("control character"), tostring(err))
  resp, err = http.get("{{BASE}}/echo\r\nX-Evil: 1")
  assert(resp == nil and err:find("control character"), tostring(err))

  -- request_batch
  local responses, errors = http.request_batch({
    {"GET", "{{BASE}}/hello"},
    {"GET", "http://example.com/"},
    {"POST", "{{BASE}}/echo", {body = "b"}},
  })
  assert(responses[1].body == "hello" and responses[2] == nil and responses[3].body:find("^POST"))
  assert(errors[2]:find("is not allowed") and errors[1] == nil)
  responses, errors = http.request_batch({{"GET", "{{BASE}}/hello"}})
  assert(errors == nil and responses[1].status_code == 200)
  assert(not pcall(http.request_batch, {"not a table"}))
  local many = {}
  for i = 1, 17 do many[i] = {"GET", "{{BASE}}/hello"} end
  assert(not pcall(http.request_batch, many))

  -- argument errors raise
  assert(not pcall(http.get))
  assert(not pcall(http.request, "GET"))
  -- the request password never shows up in an error
  resp, err = http.get("http://" .. request.password .. "/")
  assert(resp == nil and not err:find(request.password, 1, true), err)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

-- nauthilus_http_request through the real engine. The Go test serves a
-- POST /api/v1/auth/json?mode=no-auth&x=1&x=2 with X-Foo sent twice and a
-- JSON body; every check raises on a mismatch, naming what differed.
local http_request = require("nauthilus_http_request")

local function eq(what, got, want)
  if got ~= want then
    error(what .. ": got " .. tostring(got) .. ", want " .. tostring(want))
  end
end

function nauthilus_call_filter(request)
  -- A header sent twice: both values, in order; the name is case-insensitive.
  local foo, err = http_request.get_http_request_header("x-foo")
  eq("err", err, nil)
  eq("#x-foo", #foo, 2)
  eq("x-foo[1]", foo[1], "a")
  eq("x-foo[2]", foo[2], "b")
  eq("X-FOO", #http_request.get_http_request_header("X-FOO"), 2)
  -- A missing header is {}, never nil.
  local none = http_request.get_http_request_header("x-missing")
  eq("missing type", type(none), "table")
  eq("#missing", #none, 0)

  -- Every key of the full map is lower-case; values are lists.
  local all = http_request.get_all_http_request_headers()
  for name, values in pairs(all) do
    eq("lower-case " .. name, name, string.lower(name))
    eq("list " .. name, type(values), "table")
  end
  eq("all x-foo", #all["x-foo"], 2)
  eq("content-type", all["content-type"][1], "application/json")
  -- What scripts must not see is not there.
  eq("authorization hidden", all["authorization"], nil)
  eq("auth-pass hidden", all["auth-pass"], nil)

  eq("method", http_request.get_http_method(), "POST")
  eq("path", http_request.get_http_path(), "/api/v1/auth/json")
  eq("mode", http_request.get_http_query_param("mode"), "no-auth")
  eq("first of two", http_request.get_http_query_param("x"), "1")
  eq("absent param", http_request.get_http_query_param("nope"), "")

  -- The body twice: the same text both times.
  local b1 = http_request.get_http_request_body()
  local b2 = http_request.get_http_request_body()
  eq("body twice", b1, b2)
  eq("body", b1, '{"username":"alice"}')

  eq("partial decode", http_request.url_partial_decode("a%20b%zz%4"), "a b%zz%4")
  eq("plus stays", http_request.url_partial_decode("a+b"), "a+b")

  -- Argument errors raise.
  local ok = pcall(http_request.get_http_request_header)
  eq("no argument raises", ok, false)

  -- A top-level require captured before this run still reads this request.
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

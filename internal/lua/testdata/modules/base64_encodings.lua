-- gopher-lua-libs base64: the four encodings, as its README's examples.
local base64 = require("base64")

function nauthilus_call_filter(request)
  assert(base64.RawStdEncoding:encode_to_string("foo\1bar") == "Zm9vAWJhcg")
  assert(base64.StdEncoding:encode_to_string("foo\1bar") == "Zm9vAWJhcg==")
  local text = "this is a <tag> and should be encoded"
  assert(base64.RawURLEncoding:encode_to_string(text) == "dGhpcyBpcyBhIDx0YWc-IGFuZCBzaG91bGQgYmUgZW5jb2RlZA")
  assert(base64.URLEncoding:encode_to_string(text) == "dGhpcyBpcyBhIDx0YWc-IGFuZCBzaG91bGQgYmUgZW5jb2RlZA==")
  local s, err = base64.RawStdEncoding:decode_string("Zm9vAWJhcg")
  assert(s == "foo\1bar" and err == nil)
  s, err = base64.StdEncoding:decode_string("Zm9vAWJhcg==")
  assert(s == "foo\1bar" and err == nil)
  s, err = base64.URLEncoding:decode_string("dGhpcyBpcyBhIDx0YWc-IGFuZCBzaG91bGQgYmUgZW5jb2RlZA==")
  assert(s == text and err == nil)
  -- errors: (nil, message)
  s, err = base64.StdEncoding:decode_string("Zm9vAWJhcg") -- missing padding
  assert(s == nil and type(err) == "string", tostring(err))
  s, err = base64.RawURLEncoding:decode_string("a+b/")
  assert(s == nil and err ~= nil)
  -- calling with '.' instead of ':' is a clear error
  local ok, msg = pcall(base64.StdEncoding.encode_to_string, "x")
  assert(not ok and msg:find("call encode_to_string with ':'", 1, true), msg)
  -- the encodings cannot be changed (the state is shared between requests)
  assert(not pcall(function() base64.StdEncoding.encode_to_string = print end))
  assert(getmetatable(base64.StdEncoding) == false)
  ok, msg = pcall(base64.new_encoder)
  assert(not ok and msg:find("base64.new_encoder is not supported", 1, true))
  ok, msg = pcall(base64.new_decoder)
  assert(not ok and msg:find("base64.new_decoder is not supported", 1, true))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

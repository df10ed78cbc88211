-- gopher-lua-libs crypto: md5 and sha256 as its README documents them.
local crypto = require("crypto")

function nauthilus_call_filter(request)
  assert(crypto.md5("1\n") == "b026324c6904b2a9cb4b88d6d61c81d1")
  assert(crypto.sha256("1\n") == "4355a46b19d348dc2f57c046f8ef63d4538ebb936000f3c9ee954a27460dd865")
  assert(crypto.sha256("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  assert(not pcall(crypto.md5, nil))
  assert(crypto.sha1 == nil, "not in gopher-lua-libs crypto")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

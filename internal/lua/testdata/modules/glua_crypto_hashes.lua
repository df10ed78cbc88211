-- glua_crypto: known vectors (RFC 1321, FIPS 180, RFC 2202/4231, CRC-32 check value).
local crypto = require("glua_crypto")

function nauthilus_call_filter(request)
  assert(crypto.md5("") == "d41d8cd98f00b204e9800998ecf8427e")
  assert(crypto.md5("abc") == "900150983cd24fb0d6963f7d28e17f72")
  assert(crypto.sha1("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
  assert(crypto.sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  assert(crypto.sha512("abc") == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
  assert(crypto.crc32("123456789") == "cbf43926")
  -- raw output: the digest bytes
  local raw = crypto.md5("abc", true)
  assert(#raw == 16 and raw:byte(1) == 0x90 and raw:byte(16) == 0x72)
  assert(#crypto.sha256("abc", true) == 32)
  -- numbers are coerced to strings, as Lua does
  assert(crypto.md5(1) == crypto.md5("1"))
  -- hmac(dtype, input, key [, raw])
  assert(crypto.hmac("sha256", "what do ya want for nothing?", "Jefe") == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
  assert(crypto.hmac("md5", "what do ya want for nothing?", "Jefe") == "750c783e6ab0b503eaa86e310a5db738")
  assert(crypto.hmac("SHA1", "what do ya want for nothing?", "Jefe") == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
  assert(#crypto.hmac("sha512", "x", "k", true) == 64)
  local none, err = crypto.hmac("whirlpool\r\n", "x", "k")
  assert(none == nil and err == "unsupported hmac type: whirlpool??", tostring(err))
  -- base64
  assert(crypto.base64_encode("foo\1bar") == "Zm9vAWJhcg==")
  assert(crypto.base64_decode("Zm9vAWJhcg==") == "foo\1bar")
  local bad, derr = crypto.base64_decode("***")
  assert(bad == nil and type(derr) == "string")
  -- argument errors raise
  assert(not pcall(crypto.md5))
  assert(not pcall(crypto.hmac, "sha256", {}, "k"))
  -- not implemented: raises naming the function
  local ok, msg = pcall(crypto.encrypt, "x", "aes-cbc", "k", 0, "iv")
  assert(not ok and msg:find("glua_crypto.encrypt is not supported by backline", 1, true), msg)
  ok, msg = pcall(crypto.decrypt, "x", "aes-cbc", "k", 0, "iv")
  assert(not ok and msg:find("glua_crypto.decrypt is not supported by backline", 1, true), msg)
  assert(crypto.RAW_DATA == 1)
  -- a pure library: not a global
  assert(rawget(_G, "glua_crypto") == nil and glua_crypto == nil)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

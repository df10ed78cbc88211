-- nauthilus_password.compare_passwords: known vectors, wrong passwords,
-- malformed hashes and argument errors (spec §4.7, §5).
local pw = require("nauthilus_password")

local vectors = {
  -- {SSHA*}: sha(password || salt) || salt, made with Python's hashlib.
  {"{SSHA256}oBmrdHcA6OZEkkCLeXh71YAerbvhXz1qqwjrPsXmEtNzYWx0c2FsdA==", "secret"},
  {"{SSHA256.B64}oBmrdHcA6OZEkkCLeXh71YAerbvhXz1qqwjrPsXmEtNzYWx0c2FsdA==", "secret"},
  {"{SSHA256.HEX}a019ab747700e8e64492408b79787bd5801eadbbe15f3d6aab08eb3ec5e612d373616c7473616c74", "secret"},
  {"{SSHA512}MKbQg3rPvz03V+1S0+/jlDdn0B0IiGGxl7kZMimdo1IHHWN6DtzxJMCchsX5U1lrRY7apW/oopOgERexYda1nAECAwQ=", "secret"},
  -- Drepper's SHA-crypt specification.
  {"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"},
  {"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!"},
  -- openssl passwd -1 -salt abcdefgh
  {"$1$abcdefgh$fzmjzFdo5nMtBG8gtud5e0", "Hello world!"},
  -- doveadm pw -s BLF-CRYPT / ARGON2ID -p test
  {"$2y$05$hXvx8GaJzZgLswMaYq28fOv8zKOu8bzaM82lvC/G6941yNvKPrAqy", "test"},
  {"$argon2id$v=19$m=65536,t=3,p=1$lldyQF3FzOs3LLgIsd83GQ$ozpYC6EnnTRtBZbwF1ZsXisNJsoFfE/aV8Po0bmRh8s", "test"},
  -- the Argon2 reference implementation's example (argon2i)
  {"$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$IMit9qkFULCMA/ViizL57cnTLOa5DiVM9eMwpAvPwr4", "password"},
}

function nauthilus_call_filter(request)
  for i, v in ipairs(vectors) do
    local ok, err = pw.compare_passwords(v[1], v[2])
    assert(ok == true and err == nil, "vector " .. i .. ": " .. tostring(ok) .. " " .. tostring(err))
    ok, err = pw.compare_passwords(v[1], v[2] .. "x")
    assert(ok == false and err == nil, "vector " .. i .. " accepted a wrong password")
  end

  -- Malformed or unsupported hashes: false plus an error, never a raise.
  for _, bad in ipairs({"secret", "{PLAIN}secret", "{SSHA256}!!", "{SSHA256.HEX}zz", "{MD5}x",
                        "$argon2id$v=19$m=0,t=1,p=1$c2FsdA$aGFzaA", "", "{SSHA512}c2FsdA=="}) do
    local ok, err = pw.compare_passwords(bad, "secret")
    assert(ok == false and type(err) == "string" and err ~= "", "malformed " .. bad .. " gave " .. tostring(err))
  end
  -- $6$ without a hash part: the computed hash differs, a plain mismatch.
  local ok6, err6 = pw.compare_passwords("$6$", "secret")
  assert(ok6 == false and err6 == nil)

  -- Work limits: refused before hashing, with the reason.
  local ok, err = pw.compare_passwords("$6$rounds=999999999$salt$x", "secret")
  assert(ok == false and err:find("rounds=999999999 exceed"), err)
  ok, err = pw.compare_passwords("$2y$31$hXvx8GaJzZgLswMaYq28fOv8zKOu8bzaM82lvC/G6941yNvKPrAqy", "test")
  assert(ok == false and err:find("bcrypt cost 31"), err)
  ok, err = pw.compare_passwords("$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$IMit9qkFULCMA/ViizL57cnTLOa5DiVM9eMwpAvPwr4", "x")
  assert(ok == false and err:find("Argon2 m=4194304KiB exceeds"), err)
  ok, err = pw.compare_passwords("$argon2id$v=19$m=262144,t=4,p=1$c29tZXNhbHQ$IMit9qkFULCMA/ViizL57cnTLOa5DiVM9eMwpAvPwr4", "x")
  assert(ok == false and err:find("t=4 with m=262144KiB exceeds"), err)
  ok, err = pw.compare_passwords("$2y$15$hXvx8GaJzZgLswMaYq28fOv8zKOu8bzaM82lvC/G6941yNvKPrAqy", "test")
  assert(ok == false and err:find("bcrypt cost 15 exceeds backline's limit of 14"), err)

  -- Argument count.
  ok, err = pw.compare_passwords("{SSHA256}x")
  assert(ok == false and err == "wrong number of arguments", tostring(err))
  ok, err = pw.compare_passwords("a", "b", "c")
  assert(ok == false and err == "wrong number of arguments", tostring(err))
  -- A table where a string belongs raises.
  assert(not pcall(pw.compare_passwords, {}, "x"))

  -- The request's own password never shows up in an error.
  ok, err = pw.compare_passwords("{SSHA256}" .. request.password, request.password)
  assert(ok == false and not err:find(request.password, 1, true), err)

  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

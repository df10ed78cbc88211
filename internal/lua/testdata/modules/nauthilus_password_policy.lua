-- nauthilus_password.check_password_policy and generate_password_hash.
local pw = require("nauthilus_password")

function nauthilus_call_filter(request)
  local policy = {min_length = 8, min_upper = 1, min_lower = 1, min_number = 1, min_special = 1}
  local ok, err = pw.check_password_policy(policy, "Abcdef1!")
  assert(ok == true and err == nil)
  assert(pw.check_password_policy(policy, "abcdef1!") == false, "no upper")
  assert(pw.check_password_policy(policy, "ABCDEF1!") == false, "no lower")
  assert(pw.check_password_policy(policy, "Abcdefg!") == false, "no digit")
  assert(pw.check_password_policy(policy, "Abcdefg1") == false, "no special")
  assert(pw.check_password_policy(policy, "Ab1!") == false, "too short")
  -- Length counts bytes: "€" is 3 bytes and a special character.
  assert(pw.check_password_policy({min_length = 6, min_special = 2}, "ab€€") == true, "euro is special, 8 bytes")
  assert(pw.check_password_policy({min_length = 9}, "ab€€") == false, "8 bytes only")
  -- Unicode classes.
  assert(pw.check_password_policy({min_upper = 1, min_lower = 1}, "Äö") == true)
  -- Absent or non-number fields count as 0.
  assert(pw.check_password_policy({min_length = "many", min_upper = {}}, "") == true)
  assert(pw.check_password_policy({}, "") == true)
  assert(not pcall(pw.check_password_policy, "not a table", "x"), "policy must be a table")

  -- generate_password_hash: SHA-256 of nonce, 0x00 and the password, 8 hex.
  local h, herr = pw.generate_password_hash("secret")
  assert(herr == nil and h == "{{HASH8}}", "hash " .. tostring(h))
  assert(#h == 8 and h:match("^[0-9a-f]+$"))
  assert(pw.generate_password_hash("secret") == h, "deterministic")
  assert(pw.generate_password_hash("secreT") ~= h)
  assert(not pcall(pw.generate_password_hash), "password is required")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

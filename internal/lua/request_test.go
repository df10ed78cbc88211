package lua

import "testing"

// Unset fields come from the request table's metatable; scripts must still
// read them as "" / false / 0, as Nauthilus's fully populated table gives.
func TestRequestTableZeroFieldsReadAsZeroValues(t *testing.T) {
	out, err, _ := runOne(t, `
function nauthilus_call_filter(request)
  nauthilus_builtin.custom_log_add("ssl_cipher", type(request.ssl_cipher) .. ":" .. request.ssl_cipher)
  nauthilus_builtin.custom_log_add("no_auth", request.no_auth)
  nauthilus_builtin.custom_log_add("attempt", request.auth_login_attempt)
  nauthilus_builtin.custom_log_add("username", request.username)
  nauthilus_builtin.custom_log_add("unknown_is_nil", request.no_such_field == nil)
  request.ssl_cipher = "changed" -- a script may write to its own table
  nauthilus_builtin.custom_log_add("written", request.ssl_cipher)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"ssl_cipher": "string:", "no_auth": false, "attempt": float64(0), "username": "alice", "unknown_is_nil": true, "written": "changed"}
	for k, v := range want {
		got, ok := logValue(out, k)
		if !ok || got != v {
			t.Errorf("%s = %v (%T), want %v (%T)", k, got, got, v, v)
		}
	}
}

func TestRequestTableDefaultsAreNotReachable(t *testing.T) {
	out, err, _ := runOne(t, `
function nauthilus_call_filter(request)
  nauthilus_builtin.custom_log_add("meta", tostring(getmetatable(request)))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := logValue(out, "meta"); got != "false" {
		t.Errorf("getmetatable(request) = %v, want false", got)
	}
}

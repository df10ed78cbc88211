package lua

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A password script's custom_log_add entries come back with its result,
// in call order (each key once), string values scrubbed of the request password, also
// when the script answers FAIL; a listing returns its own.
func TestPasswordScriptLogs(t *testing.T) {
	src := `
function nauthilus_backend_verify_password(request)
  nauthilus_builtin.custom_log_add("user", request.username)
  nauthilus_builtin.custom_log_add("pw", "is " .. request.password)
  nauthilus_builtin.custom_log_add("n", 7)
  nauthilus_builtin.custom_log_add("user", "again")
  if request.username == "fail" then return nauthilus_builtin.BACKEND_RESULT_FAIL end
  return nauthilus_builtin.BACKEND_RESULT_OK, nauthilus_backend_result.new()
end
function nauthilus_backend_list_accounts()
  nauthilus_builtin.custom_log_add("listing", true)
  return nauthilus_builtin.BACKEND_RESULT_OK, {"a"}
end`
	e, _ := newEngine(t, engineSetup{})
	p, err := e.NewPasswordScript(writeScript(t, "passdb.lua", src, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"alice", "fail"} {
		got, err := p.Verify(context.Background(), &Request{Username: user, Password: "hunter2-long"})
		if err != nil {
			t.Fatal(err)
		}
		// "user" added again keeps its place and takes the later value.
		want := []LogField{{"user", "again"}, {"pw", "is <redacted>"}, {"n", float64(7)}}
		if diff := cmp.Diff(want, got.Logs); diff != "" {
			t.Errorf("%s (-want +got):\n%s", user, diff)
		}
	}
	names, logs, err := p.ListAccountsLogged(context.Background(), &Request{})
	if err != nil || !cmp.Equal(names, []string{"a"}) || !cmp.Equal(logs, []LogField{{"listing", true}}) {
		t.Errorf("listing: %v %v %v", names, logs, err)
	}
}

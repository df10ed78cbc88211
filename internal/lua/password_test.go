package lua

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPasswordScriptVerify(t *testing.T) {
	src := `
function nauthilus_backend_verify_password(request)
  local b = nauthilus_backend_result.new()
  if request.username == "nil-code" then return nil, b end
  if request.username == "no-result" then return nauthilus_builtin.BACKEND_RESULT_OK end
  if request.username == "select" then nauthilus_backend.select_backend_server("h", 1) end
  b:user_found(request.username == "alice")
  b:authenticated(request.username == "alice" and request.password == "right")
  b:account_field("uid")
  b:display_name_field("cn")
  b:attributes({uid = request.username, servers = #nauthilus_backend.get_backend_servers()})
  b:groups({"mail"})
  return nauthilus_builtin.BACKEND_RESULT_OK, b
end`
	e, _ := newEngine(t, engineSetup{health: tenTargets()})
	p, err := e.NewPasswordScript(writeScript(t, "passdb.lua", src, 0))
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Verify(context.Background(), &Request{Username: "alice", Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	want := &BackendResult{OK: true, Authenticated: true, UserFound: true, AccountField: "uid", DisplayNameField: "cn",
		Attributes: map[string]any{"uid": "alice", "servers": float64(10)}, Groups: []string{"mail"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	got, err = p.Verify(context.Background(), &Request{Username: "nil-code"})
	if err != nil || got.OK {
		t.Errorf("nil code: %+v %v", got, err)
	}
	got, err = p.Verify(context.Background(), &Request{Username: "no-result"})
	if err != nil || !got.OK || got.Authenticated {
		t.Errorf("no result: %+v %v", got, err)
	}
	// Routing functions are not offered to password scripts.
	if _, err := p.Verify(context.Background(), &Request{Username: "select"}); err == nil || !strings.Contains(err.Error(), "select_backend_server") {
		t.Errorf("select in password script: %v", err)
	}
}

func TestPasswordScriptErrors(t *testing.T) {
	e, logs := newEngine(t, engineSetup{})
	p, err := e.NewPasswordScript(writeScript(t, "p.lua", `function nauthilus_backend_verify_password(r) error("db down for " .. r.password) end`, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Verify(context.Background(), &Request{Password: "hunter2-long"})
	if err == nil || strings.Contains(err.Error(), "hunter2-long") || strings.Contains(logs.String(), "hunter2-long") {
		t.Fatalf("err=%v log=%s", err, logs)
	}
	if !strings.Contains(logs.String(), "Lua password script failed") {
		t.Errorf("log:\n%s", logs)
	}
	p, err = e.NewPasswordScript(writeScript(t, "q.lua", `function nauthilus_backend_verify_password(r) return 0, {} end`, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(context.Background(), &Request{}); err == nil {
		t.Error("a table as result must be an error")
	}
	if _, err := e.NewPasswordScript("/nonexistent/x.lua"); err == nil {
		t.Error("missing file must be an error")
	}
}

package lua

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunOffline(t *testing.T) {
	req, err := ParseRequestJSON([]byte(`{"username":"bob","password":"pw-123456","client_ip":"192.0.2.1","authenticated":true,"ssl_protocol":"TLSv1.3"}`))
	if err != nil {
		t.Fatal(err)
	}
	backends, err := ParseBackendsJSON([]byte(`[
	  {"name":"a","protocol":"imap","host":"10.0.0.1","port":143,"healthy":false},
	  {"name":"b","protocol":"imap","host":"10.0.0.2","port":993,"tls":true}]`))
	if err != nil {
		t.Fatal(err)
	}
	script := writeScript(t, "f.lua", `
function nauthilus_call_filter(request)
  local s = nauthilus_backend.get_backend_servers()[1]
  nauthilus_backend.select_backend_server(s.host, s.port)
  local ok, err = nauthilus_backend.check_backend_connection("imap", s.host, s.port, s.tls, false, false)
  nauthilus_builtin.custom_log_add("check", err)
  nauthilus_builtin.custom_log_add("ssl", request.ssl_protocol .. " " .. request.client_ip)
  nauthilus_util.log_debug("hello from " .. request.username)
  local b = nauthilus_backend_result.new()
  b:attributes({mailhost = s.host})
  nauthilus_backend.apply_backend_result(b)
  nauthilus_backend.remove_from_backend_result({"old"})
  nauthilus_builtin.status_message_set("msg")
  return nauthilus_builtin.FILTER_REJECT, nauthilus_builtin.FILTER_RESULT_FAIL
end`, 0)
	var logs, out bytes.Buffer
	outcome, err := RunOffline(context.Background(), OfflineOptions{ScriptPath: script, Request: req, Backends: backends, Log: &logs})
	if err != nil {
		t.Fatal(err)
	}
	WriteOutcome(&out, outcome)
	want := `action: reject
results: f.lua:fail
selected: 10.0.0.2:993
attribute: mailhost = "10.0.0.2"
remove: old
status_message: msg
log: check=live checks are disabled (run with --live-checks)
log: ssl=TLSv1.3 192.0.2.1
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	if !strings.Contains(logs.String(), "hello from bob") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

func TestOfflineInputErrors(t *testing.T) {
	if _, err := ParseRequestJSON([]byte(`{"usrname":"x"}`)); err == nil || !strings.Contains(err.Error(), "usrname") {
		t.Errorf("err = %v", err)
	}
	if _, err := ParseBackendsJSON([]byte(`[{"host":"h","port":0}]`)); err == nil {
		t.Error("port 0 accepted")
	}
	if _, err := ParseBackendsJSON([]byte(`[{"host":"h","port":1,"bogus":1}]`)); err == nil {
		t.Error("unknown key accepted")
	}
	if _, err := RunOffline(context.Background(), OfflineOptions{ScriptPath: "/nonexistent.lua"}); err == nil {
		t.Error("missing script accepted")
	}
}

func TestOfflineBackup(t *testing.T) {
	backends, err := ParseBackendsJSON([]byte(`[{"name":"p","protocol":"imap","host":"10.0.0.1","port":143},
{"name":"s","protocol":"imap","host":"10.0.0.2","port":143,"backup":true}]`))
	if err != nil {
		t.Fatal(err)
	}
	snap := SnapshotOf(backends).Snap
	if snap.Backends[0].Backup || !snap.Backends[1].Backup {
		t.Errorf("backup flags %v %v", snap.Backends[0].Backup, snap.Backends[1].Backup)
	}
	if _, err := ParseBackendsJSON([]byte(`[{"host":"h","port":1,"backup":"yes"}]`)); err == nil {
		t.Error(`backup: "yes" accepted`)
	}
}

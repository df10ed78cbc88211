package lua

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A script's custom_log_add entries are bounded: 64 kept, the rest
// counted; keys cut to 64 bytes and string values to 1 KiB, at a UTF-8
// boundary, after the password was redacted from both.
func TestCustomLogAddIsBounded(t *testing.T) {
	body := `for i = 1, 100 do nauthilus_builtin.custom_log_add("k" .. i, i) end`
	out, err, _ := runOne(t, filterBody(body), engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Logs) != maxRunLogFields+1 {
		t.Fatalf("%d entries, want %d kept and one count", len(out.Logs), maxRunLogFields)
	}
	if last := out.Logs[len(out.Logs)-1]; last.Key != logDroppedKey || last.Value != float64(36) {
		t.Errorf("last entry %v, want %s=36", last, logDroppedKey)
	}
	if out.Logs[63].Key != "k64" {
		t.Errorf("entry 64 is %v", out.Logs[63])
	}

	// The request password is s3cret-Passw0rd (runOne).
	body = `nauthilus_builtin.custom_log_add(string.rep("a", 60) .. r.password, "v")
nauthilus_builtin.custom_log_add("long", string.rep("é", 600))
nauthilus_builtin.custom_log_add("secret", string.rep("b", 1020) .. r.password)`
	out, err, _ = runOne(t, filterBody(body), engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range out.Logs {
		s, _ := l.Value.(string)
		if strings.Contains(l.Key+s, "s3cr") {
			t.Errorf("entry %q=%q carries part of the password", l.Key, s)
		}
		if !utf8.ValidString(l.Key) || !utf8.ValidString(s) {
			t.Errorf("entry %q=%q is not valid UTF-8 after the cut", l.Key, s)
		}
	}
	if k := out.Logs[0].Key; !strings.HasPrefix(k, strings.Repeat("a", 60)+"<re") || !strings.Contains(k, "bytes cut]") {
		t.Errorf("key = %q, want the redacted key cut to 64 bytes", k)
	}
	if v := out.Logs[1].Value.(string); !strings.HasPrefix(v, strings.Repeat("é", 512)+"…[") {
		t.Errorf("value = %.60q..., want 512 é and the cut", v)
	}
}

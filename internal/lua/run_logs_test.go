package lua

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
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
	if last := out.Logs[len(out.Logs)-1]; last.Key != LogFieldsDroppedKey || last.Value != float64(36) {
		t.Errorf("last entry %v, want %s=36", last, LogFieldsDroppedKey)
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

// A key added again keeps its place and takes the later value, so the log
// line carries each key once; repeats use up no entry, and a key that
// still fits replaces its value even once the bound is reached. Keys are
// compared after redaction and the cut: two keys that end up equal are
// one entry.
func TestCustomLogAddRepeatedKeyKeepsLastValue(t *testing.T) {
	body := `for i = 1, 100 do nauthilus_builtin.custom_log_add("k", i) end
nauthilus_builtin.custom_log_add("other", "x")
nauthilus_builtin.custom_log_add("k", "last")
nauthilus_builtin.custom_log_add("p" .. r.password, 1)
nauthilus_builtin.custom_log_add("p" .. r.password, 2)
nauthilus_builtin.custom_log_add(string.rep("a", 70) .. "1", 1)
nauthilus_builtin.custom_log_add(string.rep("a", 70) .. "2", 2)`
	out, err, _ := runOne(t, filterBody(body), engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Repeat("a", 64) + "…[7 bytes cut]"
	want := []LogField{{"k", "last"}, {"other", "x"}, {"p<redacted>", float64(2)}, {cut, float64(2)}}
	if diff := cmp.Diff(want, out.Logs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	body = `for i = 1, 64 do nauthilus_builtin.custom_log_add("k" .. i, i) end
nauthilus_builtin.custom_log_add("k1", "updated")
nauthilus_builtin.custom_log_add("new", 1)
nauthilus_builtin.custom_log_add("new", 2)
nauthilus_builtin.custom_log_add("k64", "updated")`
	out, err, _ = runOne(t, filterBody(body), engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Logs); n != maxRunLogFields+1 || out.Logs[0].Value != "updated" || out.Logs[63].Value != "updated" {
		t.Fatalf("%d entries, first %v, 64th %v", n, out.Logs[0], out.Logs[63])
	}
	if last := out.Logs[maxRunLogFields]; last.Key != LogFieldsDroppedKey || last.Value != float64(2) {
		t.Errorf("dropped entry %v, want %s=2 (new, twice)", last, LogFieldsDroppedKey)
	}
}

// Across filters a key keeps its first place and the value of the last
// filter in config order; the dropped counts add up.
func TestMergeLogFields(t *testing.T) {
	a := []LogField{{"who", "a"}, {"only_a", true}, {LogFieldsDroppedKey, float64(3)}}
	b := []LogField{{"only_b", 1.5}, {"who", "b"}, {LogFieldsDroppedKey, float64(4)}}
	got := mergeLogFields(mergeLogFields(nil, a), b)
	want := []LogField{{"who", "b"}, {"only_a", true}, {LogFieldsDroppedKey, float64(7)}, {"only_b", 1.5}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if v := MergeLogValue("k", float64(1), float64(2)); v != float64(2) {
		t.Errorf("an ordinary number is replaced, not added: %v", v)
	}
	if v := MergeLogValue(LogFieldsDroppedKey, "script's own", float64(2)); v != float64(2) {
		t.Errorf("a dropped key a script set as a string: %v", v)
	}
}

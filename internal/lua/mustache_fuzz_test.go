package lua

import (
	"errors"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

// FuzzMustache: any template parses or fails cleanly, and rendering it
// against a small value stops at the output bound without panicking.
func FuzzMustache(f *testing.F) {
	for _, s := range []string{"Hello {{name}}!", "{{#l}}{{.}}{{/l}}", "{{^x}}no{{/x}}", "{{{raw}}}{{&r}}",
		"a\n  {{#s}}\nb\n  {{/s}}\n", "{{! c }}", "{{#a}}{{#a}}{{/a}}{{/a}}", "{{", "{{#a}}", "{{/a}}", "{{=<% %>=}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		nodes, err := parseMustache(src)
		if err != nil {
			return
		}
		L := glua.NewState(glua.Options{SkipOpenLibs: true})
		defer L.Close()
		values := L.CreateTable(0, 4)
		list := L.CreateTable(3, 0)
		for i := 1; i <= 3; i++ {
			list.RawSetInt(i, glua.LNumber(i))
		}
		values.RawSetString("l", list)
		values.RawSetString("a", values) // a cycle: sections must stay bounded by the template
		values.RawSetString("name", glua.LString("<x>"))
		errTooBig := errors.New("too big")
		m := &mustacheRender{stack: []glua.LValue{values}, check: func(size int) error {
			if size > 1<<20 {
				return errTooBig
			}
			return nil
		}}
		if err := m.render(nodes); err != nil && !errors.Is(err, errTooBig) {
			t.Fatal(err)
		}
	})
}

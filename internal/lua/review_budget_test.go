package lua

import (
	"errors"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

// Findings of the module security review (issue 12): allocations that grow
// with script input must be charged before they happen.

// TestMustacheChecksEveryLargeWrite: a template repeating a large value
// fewer than 256 times was checked only after the whole output was built
// (255 × a 256 KiB string = 64 MiB before the first check). Each write is
// now checked with the size it will have, escaped values at their worst
// (5 bytes per byte), so the output never passes the bound by more than
// one small text node.
func TestMustacheChecksEveryLargeWrite(t *testing.T) {
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	defer L.Close()
	const limit = 1 << 20
	errTooBig := errors.New("too big")
	for name, tmpl := range map[string]string{
		"raw":     strings.Repeat("{{{s}}}", 200),
		"amp":     strings.Repeat("{{&s}}", 200),
		"escaped": strings.Repeat("{{q}}", 200),
		"section": "{{#l}}" + strings.Repeat("{{{s}}}", 100) + "{{/l}}",
	} {
		t.Run(name, func(t *testing.T) {
			nodes, err := parseMustache(tmpl)
			if err != nil {
				t.Fatal(err)
			}
			values := L.CreateTable(0, 3)
			values.RawSetString("s", glua.LString(strings.Repeat("x", 256<<10)))
			values.RawSetString("q", glua.LString(strings.Repeat(`"`, 256<<10))) // &#34;: 5 bytes each
			list := L.CreateTable(2, 0)
			list.RawSetInt(1, glua.LTrue)
			list.RawSetInt(2, glua.LTrue)
			values.RawSetString("l", list)
			m := &mustacheRender{stack: []glua.LValue{values}, check: func(size int) error {
				if size > limit {
					return errTooBig
				}
				return nil
			}}
			if err := m.render(nodes); !errors.Is(err, errTooBig) {
				t.Fatalf("render = %v, want the bound's error", err)
			}
			if m.out.Len() > limit {
				t.Fatalf("output grew to %d bytes before the check stopped it (bound %d)", m.out.Len(), limit)
			}
		})
	}
}

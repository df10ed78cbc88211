package main

import (
	"encoding/json"
	"strings"

	"github.com/backline/backline/internal/redact"
)

// redactJSONStrings applies redact.ErrorText to each string of a valid
// JSON text, decoded: on the text itself, a quoted header line reads as
// \"...\" and ErrorText, which cannot tell where it ends, would cut the
// document off there. Strings it leaves alone keep their bytes.
func redactJSONStrings(doc string) string {
	var b strings.Builder
	rest := doc
	for {
		i := strings.IndexByte(rest, '"')
		if i < 0 {
			if b.Len() == 0 {
				return doc
			}
			b.WriteString(rest)
			return b.String()
		}
		end := i + 1
		for end < len(rest) && rest[end] != '"' {
			if rest[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(rest) {
			// Not valid JSON after all: nothing after here is trusted.
			b.WriteString(rest[:i])
			b.WriteString(`"` + redact.Placeholder + `"`)
			return b.String()
		}
		literal := rest[i : end+1]
		b.WriteString(rest[:i])
		var s string
		if json.Unmarshal([]byte(literal), &s) == nil {
			if r := redact.ErrorText(s); r != s {
				enc, _ := json.Marshal(r)
				literal = string(enc)
			}
		}
		b.WriteString(literal)
		rest = rest[end+1:]
	}
}

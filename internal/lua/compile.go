package lua

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/backline/backline/internal/config"
)

// SyntaxError is a script that does not compile: "file:line: message".
type SyntaxError struct {
	Path string
	// Line is 0 when the error is at the end of the file.
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s at end of file", e.Path, e.Msg)
}

// compileSource parses and compiles src, named path in stack traces.
// showToken adds the offending token ("near '='"): right for the operator's
// own scripts, wrong for files a script loads, whose text must not leak
// into an error a script can read (a loadfile of /etc/shadow would show a
// hash).
func compileSource(src []byte, path string, showToken bool) (*glua.FunctionProto, error) {
	if bytes.HasPrefix(src, []byte("\x1bLua")) {
		return nil, &SyntaxError{Path: path, Line: 1, Msg: "binary chunks are not loaded"}
	}
	chunk, err := parse.Parse(bytes.NewReader(src), path)
	if err != nil {
		var pe *parse.Error
		if !errors.As(err, &pe) {
			return nil, &SyntaxError{Path: path, Msg: "syntax error"}
		}
		msg := strings.TrimSpace(pe.Message)
		if msg == "" {
			msg = "syntax error"
		}
		if pe.Pos.Line == parse.EOF {
			return nil, &SyntaxError{Path: path, Msg: msg}
		}
		if showToken {
			if stringToken(src, pe.Pos.Line, pe.Token) {
				// A string literal may be a credential written into the
				// script; the error goes to the reload API and the log.
				if !strings.Contains(msg, "string") {
					msg += " near a string literal"
				}
			} else {
				msg += " near '" + printableToken(pe.Token) + "'"
			}
		}
		return nil, &SyntaxError{Path: path, Line: pe.Pos.Line, Msg: msg}
	}
	proto, err := glua.Compile(chunk, path)
	if err != nil {
		var ce *glua.CompileError
		if errors.As(err, &ce) {
			return nil, &SyntaxError{Path: path, Line: ce.Line, Msg: ce.Message}
		}
		return nil, &SyntaxError{Path: path, Msg: "does not compile"}
	}
	// gopher-lua builds Lua 5.0's `arg` table ({n = 0} here) on every call
	// of a vararg function that does not use `...`, the main chunk
	// included, although a main chunk has no local named arg to read it:
	// a table and three maps per run, for nothing.
	proto.IsVarArg &^= glua.VarArgNeedsArg
	return proto, nil
}

// stringToken reports whether tok, the token of a syntax error on line
// (1-based) of src, is a string literal there: quoted or long-bracketed,
// or the start of an unterminated string.
func stringToken(src []byte, line int, tok string) bool {
	if tok == "" || line < 1 {
		return false
	}
	lines := bytes.Split(src, []byte("\n"))
	if line > len(lines) {
		return false
	}
	// An unterminated string reports the line after it may have started
	// on; look at both.
	for _, l := range lines[max(0, line-2):line] {
		for _, open := range []string{`"`, `'`, `[[`, `[=`} {
			if bytes.Contains(l, []byte(open+tok)) {
				return true
			}
		}
	}
	return false
}

// printableToken keeps an error line short and free of control characters.
func printableToken(tok string) string {
	const maxToken = 32
	var b strings.Builder
	for _, r := range tok {
		if b.Len() >= maxToken {
			b.WriteString("...")
			break
		}
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// CompileScripts compiles every lua.filters script, every init script and
// every Lua passdb script of cfg, as serve will, and reports each failure with its key path
// and line: `lua.filters[0].script_path (line 7): /etc/x.lua:3: syntax
// error near '='`. It returns nil or config.Errors.
func CompileScripts(cfg *config.Config) error {
	var errs config.Errors
	try := func(key, name, path string) {
		src, err := readScriptFile(path, path, true)
		var proto *glua.FunctionProto
		if err == nil {
			proto, err = compileSource(src, path, true)
		}
		if err == nil {
			err = checkScriptNeeds(cfg, name, proto)
		}
		if err != nil {
			errs.Add(key, cfg.Lines.Line(key), "%v", err)
		}
	}
	for i, f := range cfg.Lua.Filters {
		try(fmt.Sprintf("lua.filters[%d].script_path", i), f.Name, f.ScriptPath)
	}
	for _, s := range cfg.Lua.Config.InitScripts() {
		try(s.Key, s.Path, s.Path)
	}
	for i, db := range cfg.Auth.Passdb {
		if db.Type == config.PassdbLua {
			try(fmt.Sprintf("auth.passdb[%d].script_path", i), db.ScriptPath, db.ScriptPath)
		}
	}
	return errs.Err()
}

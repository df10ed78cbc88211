package lua

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"

	"github.com/backline/backline/internal/config"
)

// dbOpenLiteral finds db.open("driver", "dsn" in a script: the form
// Nauthilus's backend.lua uses (any name before .open, since the module is
// often a local called db or sql). A DSN built at run time is not seen.
var dbOpenLiteral = regexp.MustCompile(`\.open\s*\(\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*,\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')`)

// DBWarnings are `backline check`'s findings about the db module: a script
// that requires it while lua.config.db.allowed_addresses is empty (every
// db.open fails), and each literal db.open whose DSN its driver cannot
// parse or whose address is not allowed, with the reason db.open would
// give (never the DSN or its password).
func DBWarnings(cfg *config.Config) []string {
	allowed := newDBLimits(cfg.Lua, 0).allowed
	var out []string
	for _, sc := range configuredScripts(cfg) {
		src, err := os.ReadFile(sc.path)
		if err != nil {
			continue
		}
		requires := false
		for _, m := range requireLiteral.FindAllSubmatch(src, -1) {
			requires = requires || string(m[1]) == "db"
		}
		if !requires || onPackagePath(cfg.Lua.Config.PackagePath, "db") {
			continue
		}
		warn := func(msg string) {
			out = append(out, config.Error{Path: sc.key, Line: cfg.Lines.Line(sc.key), Msg: msg}.Error())
		}
		if len(allowed) == 0 {
			warn("the script requires db, but lua.config.db.allowed_addresses is empty: every db.open fails")
			continue
		}
		for _, m := range dbOpenLiteral.FindAllSubmatchIndex(src, -1) {
			driver, ok1 := luaStringLiteral(string(src[m[2]:m[3]]))
			dsn, ok2 := luaStringLiteral(string(src[m[4]:m[5]]))
			if !ok1 || !ok2 {
				continue
			}
			line := 1 + bytes.Count(src[:m[0]], []byte("\n"))
			if _, err := parseDSN(driver, dsn, allowed); err != nil {
				warn(fmt.Sprintf("line %d: db.open fails: %v", line, err))
			}
		}
	}
	return out
}

// singleQuoteSwap finds what differs between a single- and a double-quoted
// Lua string's body: \' and ".
var singleQuoteSwap = regexp.MustCompile(`\\'|"`)

// luaStringLiteral reads a quoted Lua string with the escapes DSNs use.
func luaStringLiteral(lit string) (string, bool) {
	if len(lit) < 2 {
		return "", false
	}
	body := lit[1 : len(lit)-1]
	if lit[0] == '\'' {
		body = `"` + singleQuoteSwap.ReplaceAllStringFunc(body, func(s string) string {
			if s == `"` {
				return `\"`
			}
			return "'"
		}) + `"`
	} else {
		body = lit
	}
	s, err := strconv.Unquote(body)
	return s, err == nil
}

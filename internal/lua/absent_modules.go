package lua

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// absentModules are the modules Nauthilus (or the gopher-lua-libs it
// bundles) has and backline does not, with what each is for. A script
// that requires one gets that in its error ("module db not found: ...
// backline does not provide db (SQL databases)") instead of only the
// places require looked. The explanation comes last, after package.preload
// and the file loader: a Lua file of that name on package_path still wins.
var absentModules = map[string]string{
	"tcp":                      "raw TCP connections",
	"nauthilus_ldap":           "LDAP searches and changes; backline has no LDAP backend",
	"nauthilus_dns":            "DNS lookups",
	"nauthilus_brute_force":    "Nauthilus's brute-force tolerations",
	"nauthilus_soft_whitelist": "Nauthilus's soft whitelist",
	"nauthilus_cbor":           "CBOR encoding",
	"nauthilus_i18n":           "translations",
}

// explainAbsentModule is require's third loader: for a module in
// absentModules it returns the text require appends to its error, for any
// other name nothing.
func explainAbsentModule(L *glua.LState) int {
	name := L.CheckString(1)
	what, ok := absentModules[name]
	if !ok {
		return 0
	}
	L.Push(glua.LString("backline does not provide " + name + ": " + what + ` (docs/nauthilus.md, "Modules backline does not provide")`))
	return 1
}

// requireLiteral finds require("name"), require 'name' and require "name"
// in a script's source: the form every real script uses.
var requireLiteral = regexp.MustCompile(`\brequire\s*\(?\s*["']([A-Za-z0-9_.]+)["']`)

// AbsentModuleWarnings lists the configured scripts that require, by a
// literal name, a module backline does not provide and no file on
// lua.config.package_path supplies: such a script loads, but every run
// fails at that require. For `backline check`; a script that reads a
// file it cannot open is left to CompileScripts.
func AbsentModuleWarnings(cfg *config.Config) []string {
	var out []string
	for _, sc := range configuredScripts(cfg) {
		src, err := os.ReadFile(sc.path)
		if err != nil {
			continue
		}
		seen := map[string]bool{}
		for _, m := range requireLiteral.FindAllSubmatch(src, -1) {
			name := string(m[1])
			what, absent := absentModules[name]
			if !absent || seen[name] || onPackagePath(cfg.Lua.Config.PackagePath, name) {
				continue
			}
			seen[name] = true
			out = append(out, config.Error{Path: sc.key, Line: cfg.Lines.Line(sc.key),
				Msg: fmt.Sprintf("the script requires %s, which backline does not provide (%s): every run fails there (docs/nauthilus.md, \"Modules backline does not provide\")", name, what)}.Error())
		}
	}
	return out
}

// configuredScript is one script file of the configuration and the key
// that names it.
type configuredScript struct{ key, path string }

// configuredScripts lists the filters, init scripts and Lua passdbs.
func configuredScripts(cfg *config.Config) []configuredScript {
	var out []configuredScript
	for i, f := range cfg.Lua.Filters {
		out = append(out, configuredScript{fmt.Sprintf("lua.filters[%d].script_path", i), f.ScriptPath})
	}
	for _, s := range cfg.Lua.Config.InitScripts() {
		out = append(out, configuredScript{s.Key, s.Path})
	}
	for i, db := range cfg.Auth.Passdb {
		if db.Type == config.PassdbLua {
			out = append(out, configuredScript{fmt.Sprintf("auth.passdb[%d].script_path", i), db.ScriptPath})
		}
	}
	return out
}

// onPackagePath reports whether a file for module name exists under one
// of package.path's templates.
func onPackagePath(packagePath, name string) bool {
	file := strings.ReplaceAll(name, ".", string(filepath.Separator))
	for _, tmpl := range strings.Split(packagePath, ";") {
		if tmpl == "" {
			continue
		}
		if _, err := os.Stat(strings.ReplaceAll(tmpl, "?", file)); err == nil {
			return true
		}
	}
	return false
}

package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// absentModules are the modules Nauthilus (or the gopher-lua-libs it
// bundles) has and backline does not, with what each is for. A script
// that requires one gets that in its error ("module db not found: ...
// backline does not provide db (SQL databases)") instead of only the
// places require looked. The explanation comes last, after package.preload
// and the file loader: a Lua file of that name on package_path still wins.
var absentModules = map[string]string{
	"db":                       "SQL databases, used by the 1.x Lua password backends",
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

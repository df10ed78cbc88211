package lua

import (
	"maps"
	"slices"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

const resultTypeName = "nauthilus_backend_result"

// backendResult is the nauthilus_backend_result object.
type backendResult struct {
	Authenticated     bool
	UserFound         bool
	AccountField      string
	TOTPSecretField   string
	TOTPRecoveryField string
	UniqueUserIDField string
	DisplayNameField  string
	Attributes        map[string]any
	Groups            []string
	// GroupDNs are the distinguished names of the user's groups (an LDAP
	// backend's memberOf values), next to Groups, which holds their names.
	GroupDNs []string
}

func (b *backendResult) setAttributes(m map[string]any) {
	b.Attributes = maps.Clone(m)
	if b.Attributes == nil {
		b.Attributes = map[string]any{}
	}
}

var resultModuleFunctions = map[string]runFunc{
	// new ignores its arguments, so both .new() and :new() work.
	"new": func(r *scriptRun, L *glua.LState) int {
		L.Push(r.newResultUserData(L, &backendResult{Attributes: map[string]any{}}))
		return 1
	},
}

func (r *scriptRun) newResultUserData(L *glua.LState, res *backendResult) *glua.LUserData {
	ud := L.NewUserData()
	ud.Value = res
	ud.Metatable = r.vm().resultMeta
	return ud
}

// resultAccessor is a getter (obj:name()) and setter (obj:name(v)) in one.
type resultAccessor func(L *glua.LState, res *backendResult, set bool) glua.LValue

func boolAccessor(field func(*backendResult) *bool) resultAccessor {
	return func(L *glua.LState, res *backendResult, set bool) glua.LValue {
		if set {
			*field(res) = glua.LVAsBool(L.Get(2))
			return nil
		}
		return glua.LBool(*field(res))
	}
}

func stringAccessor(field func(*backendResult) *string) resultAccessor {
	return func(L *glua.LState, res *backendResult, set bool) glua.LValue {
		if set {
			*field(res) = L.CheckString(2)
			return nil
		}
		return glua.LString(*field(res))
	}
}

var resultAccessors = map[string]resultAccessor{
	"authenticated":        boolAccessor(func(b *backendResult) *bool { return &b.Authenticated }),
	"user_found":           boolAccessor(func(b *backendResult) *bool { return &b.UserFound }),
	"account_field":        stringAccessor(func(b *backendResult) *string { return &b.AccountField }),
	"totp_secret_field":    stringAccessor(func(b *backendResult) *string { return &b.TOTPSecretField }),
	"totp_recovery_field":  stringAccessor(func(b *backendResult) *string { return &b.TOTPRecoveryField }),
	"unique_user_id_field": stringAccessor(func(b *backendResult) *string { return &b.UniqueUserIDField }),
	"display_name_field":   stringAccessor(func(b *backendResult) *string { return &b.DisplayNameField }),
	"attributes":           attributesAccessor,
	"groups":               groupsAccessor,
	"group_dns":            groupDNsAccessor,
}

// attributesAccessor replaces the map wholesale, as Nauthilus does. Unlike
// Nauthilus, {} is accepted as an empty map (Nauthilus fails the request with
// a Go type-assertion message), and an array-like table gets a clear error.
func attributesAccessor(L *glua.LState, res *backendResult, set bool) glua.LValue {
	if !set {
		return toLua(L, res.Attributes)
	}
	t := L.CheckTable(2)
	if hasOnlyIntegerKeys(t) {
		L.ArgError(2, "attributes must be a table with string keys such as {mailhost = \"imap1\"}, not a list")
	}
	m, err := tableToMap(t, 0)
	if err != nil {
		L.ArgError(2, "attributes: "+err.Error())
	}
	res.Attributes = m
	return nil
}

func groupsAccessor(L *glua.LState, res *backendResult, set bool) glua.LValue {
	if !set {
		return toLua(L, res.Groups)
	}
	res.Groups = mergeGroups(nil, stringsOf(L.CheckTable(2)))
	return nil
}

// groupDNsAccessor is groups for the groups' distinguished names: the same
// string list, sorted, unique and trimmed (Nauthilus 3's group_dns).
func groupDNsAccessor(L *glua.LState, res *backendResult, set bool) glua.LValue {
	if !set {
		return toLua(L, res.GroupDNs)
	}
	res.GroupDNs = mergeGroups(nil, stringsOf(L.CheckTable(2)))
	return nil
}

// mergeGroups returns the sorted, unique, trimmed union (as Nauthilus v3).
func mergeGroups(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for _, g := range slices.Concat(a, b) {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (v *vm) newResultMeta() *glua.LTable {
	L := v.L
	mt := L.NewTypeMetatable(resultTypeName)
	methods := L.CreateTable(0, len(resultAccessors))
	for name, acc := range resultAccessors {
		methods.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			ud, ok := L.Get(1).(*glua.LUserData)
			var res *backendResult
			if ok {
				res, ok = ud.Value.(*backendResult)
			}
			if !ok {
				L.RaiseError("%s must be called as a method (obj:%s(...)) on a %s", name, name, resultTypeName)
			}
			if out := acc(L, res, L.GetTop() >= 2); out != nil {
				L.Push(out)
				return 1
			}
			return 0
		}))
	}
	mt.RawSetString("__index", methods)
	return mt
}

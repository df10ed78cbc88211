package lua

import (
	"fmt"

	glua "github.com/yuin/gopher-lua"
)

// nauthilus_policy (spec nauthilus-lua-modules §4.9; Nauthilus 3's Lua API
// page "Policy"): request-time filters emit typed, Lua-owned attributes
// into Nauthilus's policy decision context, validated against a registry
// that registry scripts build at start-up.
//
// backline has no policy engine and runs no registry scripts, so there is
// nothing to validate an id against and nothing that decides on an
// attribute. The emit functions check what Nauthilus checks without a
// registry (an attribute is a table with a string id and a value of one of
// the registry's types; details are a table of scalars) and raise on a
// violation as Nauthilus does, so a script that is wrong here is wrong
// there; a valid attribute is accepted and dropped. Scripts that emit run
// unchanged; a script that wants the value back reads it from
// nauthilus_policy_facts' context entry, as Nauthilus scripts do.
//
// Bound in filters (Nauthilus: environment and subject sources). In a Lua
// password script require gives Nauthilus's placeholder, whose functions
// raise "emitter is not available in this Lua runtime".

// Bounds on one emitted attribute: Nauthilus's registry caps details by a
// registered max_length; without a registry these keep a hostile script
// from making backline walk huge tables (the memory budget caps the rest).
const (
	maxPolicyIDBytes   = 256
	maxPolicyListItems = 1024
	maxPolicyDetails   = 64
	maxPolicyBatch     = 1024
)

const policyPlaceholder = "emitter is not available in this Lua runtime"

func init() {
	registerModule(module{
		Name:        "nauthilus_policy",
		Filter:      true,
		Placeholder: policyPlaceholder,
		Functions: map[string]runFunc{
			"emit_attribute":  policyEmitAttribute,
			"emit_attributes": policyEmitAttributes,
			// Registry scripts call register_attribute while Nauthilus
			// builds its policy snapshot; backline runs none, and a
			// master-user emission has no meaning without the policy engine.
			"register_attribute": unsupported("nauthilus_policy", "register_attribute"),
			"emit_master_user":   unsupported("nauthilus_policy", "emit_master_user"),
		},
	})
}

// policyEmitAttribute is emit_attribute({id=, value=, details=}).
func policyEmitAttribute(_ *scriptRun, L *glua.LState) int {
	if err := checkPolicyAttribute(L.CheckTable(1)); err != nil {
		L.RaiseError("nauthilus_policy.emit_attribute: %v", err)
	}
	return 0
}

// policyEmitAttributes is emit_attributes({ {id=, value=}, ... }): every
// entry is checked before any is accepted (all or nothing).
func policyEmitAttributes(_ *scriptRun, L *glua.LState) int {
	list := L.CheckTable(1)
	n := list.Len()
	if n > maxPolicyBatch {
		L.RaiseError("nauthilus_policy.emit_attributes: %d attributes, at most %d in one call", n, maxPolicyBatch)
	}
	for i := 1; i <= n; i++ {
		t, ok := list.RawGetInt(i).(*glua.LTable)
		if !ok {
			L.RaiseError("nauthilus_policy.emit_attributes: entry %d is a %s, want a table", i, list.RawGetInt(i).Type())
		}
		if err := checkPolicyAttribute(t); err != nil {
			L.RaiseError("nauthilus_policy.emit_attributes: entry %d: %v", i, err)
		}
	}
	return 0
}

// checkPolicyAttribute validates one attribute table.
func checkPolicyAttribute(t *glua.LTable) error {
	id, ok := t.RawGetString("id").(glua.LString)
	switch {
	case !ok:
		return fmt.Errorf("id must be a string, got %s", t.RawGetString("id").Type())
	case id == "":
		return fmt.Errorf("id must not be empty")
	case len(id) > maxPolicyIDBytes:
		return fmt.Errorf("id is %d bytes, at most %d", len(id), maxPolicyIDBytes)
	}
	if err := checkPolicyValue(t.RawGetString("value")); err != nil {
		return fmt.Errorf("attribute %q: value %v", string(id), err)
	}
	switch d := t.RawGetString("details").(type) {
	case *glua.LNilType:
	case *glua.LTable:
		if err := checkPolicyDetails(d); err != nil {
			return fmt.Errorf("attribute %q: %v", string(id), err)
		}
	default:
		return fmt.Errorf("attribute %q: details must be a table, got %s", string(id), d.Type())
	}
	return nil
}

// checkPolicyValue accepts the Lua forms of the registry's types: boolean
// (bool), string (string, ip, cidr, datetime), number, and an array of
// strings (string_list).
func checkPolicyValue(v glua.LValue) error {
	switch x := v.(type) {
	case glua.LBool, glua.LString, glua.LNumber:
		return nil
	case *glua.LTable:
		n := x.Len()
		if n > maxPolicyListItems {
			return fmt.Errorf("is a list of %d strings, at most %d", n, maxPolicyListItems)
		}
		count := 0
		var bad error
		x.ForEach(func(k, item glua.LValue) {
			count++
			if bad != nil {
				return
			}
			if idx, ok := k.(glua.LNumber); !ok || float64(idx) < 1 || float64(idx) > float64(n) || float64(idx) != float64(int(idx)) {
				bad = fmt.Errorf("must be an array of strings (key %s)", k.String())
			} else if _, ok := item.(glua.LString); !ok {
				bad = fmt.Errorf("must be an array of strings (element %s is a %s)", k.String(), item.Type())
			}
		})
		if bad == nil && count != n {
			bad = fmt.Errorf("must be an array of strings without holes")
		}
		return bad
	case *glua.LNilType:
		return fmt.Errorf("is missing")
	default:
		return fmt.Errorf("has type %s; want boolean, string, number or an array of strings", v.Type())
	}
}

func checkPolicyDetails(d *glua.LTable) error {
	count := 0
	var bad error
	d.ForEach(func(k, v glua.LValue) {
		count++
		if bad != nil {
			return
		}
		name, ok := k.(glua.LString)
		if !ok {
			bad = fmt.Errorf("details keys must be strings, got %s", k.Type())
			return
		}
		switch v.(type) {
		case glua.LBool, glua.LString, glua.LNumber:
		default:
			bad = fmt.Errorf("detail %q has type %s; want boolean, string or number", string(name), v.Type())
		}
	})
	if bad == nil && count > maxPolicyDetails {
		bad = fmt.Errorf("%d details, at most %d", count, maxPolicyDetails)
	}
	return bad
}

package migrate

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// filter is one Lua filter (1.x lua.filters, 3.x auth.controls.lua.filters
// or auth.policy.attribute_sources.lua.subject) on its way to lua.filters.
type filter struct {
	name     string
	out      *yaml.Node
	src      string
	line     int
	v1       bool
	hasFlags bool // when_* flags were written (1.x style)
}

var whenFlags = []string{"when_authenticated", "when_unauthenticated", "when_no_auth"}

func (c *converter) filterList(n *yaml.Node, path string, v1 bool) {
	if n.Kind != yaml.SequenceNode {
		if !isNull(n) {
			c.wrongKind(path, n, "list")
		}
		return
	}
	for i, item := range items(n) {
		p := index(path, i)
		if item.Kind != yaml.MappingNode {
			c.wrongKind(p, item, "mapping")
			continue
		}
		f := &filter{out: &yaml.Node{Kind: yaml.MappingNode, HeadComment: item.HeadComment}, src: p, line: item.Line, v1: v1}
		flags := map[string]kv{}
		for _, e := range entries(item) {
			switch e.name {
			case "name", "script_path":
				if e.name == "name" {
					f.name = strings.TrimSpace(e.val.Value)
				}
				f.out.Content = append(f.out.Content, clone(e.key), clone(e.val))
			case "when_authenticated", "when_unauthenticated", "when_no_auth":
				flags[e.name] = e
			default:
				c.drop(join(p, e.name), e.key)
			}
		}
		c.filterFlags(f, flags)
		c.filters = append(c.filters, f)
	}
}

// filterFlags copies the when_* flags. Nauthilus treats "none true" like
// "none written" (authenticated and unauthenticated requests); backline
// reads written flags literally, so such a set is left out.
func (c *converter) filterFlags(f *filter, flags map[string]kv) {
	if len(flags) == 0 {
		return
	}
	anyTrue := false
	for _, e := range flags {
		anyTrue = anyTrue || isTrue(e.val)
	}
	if !anyTrue {
		c.note(f.src, f.line, Changed, "no when_* flag is true: Nauthilus then runs the filter for authenticated and unauthenticated requests, backline would never run it; the flags are left out for that default")
		return
	}
	f.hasFlags = true
	for _, name := range whenFlags {
		if e, ok := flags[name]; ok {
			f.out.Content = append(f.out.Content, clone(e.key), clone(e.val))
		}
	}
}

// filterCheck is one auth.policy.checks entry that schedules a filter.
type filterCheck struct {
	target    string // the filter's name (last part of config_ref)
	authState string // any | authenticated | unauthenticated
	ops       []string
	src       string
	line      int
	used      bool
}

// policyChecks reads auth.policy.checks: for lua.filter and lua.subject
// checks, when each script runs; the other check types schedule
// mechanisms backline does not have.
func (c *converter) policyChecks(n *yaml.Node, path string) {
	for i, item := range items(n) {
		p := index(path, i)
		fc := filterCheck{authState: "any", src: p, line: item.Line}
		typ := ""
		for _, e := range entries(item) {
			switch e.name {
			case "type":
				typ = e.val.Value
			case "config_ref":
				ref := e.val.Value
				fc.target = ref[strings.LastIndex(ref, ".")+1:]
			case "name":
				if fc.target == "" {
					fc.target = e.val.Value
				}
			case "run_if":
				for _, r := range entries(e.val) {
					if r.name == "auth_state" {
						fc.authState = strings.ToLower(strings.TrimSpace(r.val.Value))
					}
				}
			case "operations":
				for _, op := range items(e.val) {
					fc.ops = append(fc.ops, op.Value)
				}
			case "after":
				c.note(join(p, "after"), e.key.Line, Changed, "backline runs a request's filters in parallel and merges their results in list order; the start order between filters is not kept")
			}
		}
		if typ != "lua.filter" && typ != "lua.subject" {
			c.note(p, item.Line, Dropped, "schedules a mechanism backline does not have")
			continue
		}
		if len(fc.ops) == 0 {
			fc.ops = []string{"authenticate"}
		}
		c.checksSeen = true
		c.checks = append(c.checks, fc)
	}
}

// scheduleFilters turns the policy checks into when_* flags. With checks
// for the family, a 3.x filter runs only where a check schedules it.
func (c *converter) scheduleFilters() []*filter {
	var kept []*filter
	for _, f := range c.filters {
		if f.v1 || f.hasFlags || !c.checksSeen {
			kept = append(kept, f)
			continue
		}
		var authn, unauthn, noAuth bool
		for i := range c.checks {
			ch := &c.checks[i]
			if ch.target != f.name {
				continue
			}
			ch.used = true
			for _, op := range ch.ops {
				switch op {
				case "authenticate":
					authn = authn || ch.authState != "unauthenticated"
					unauthn = unauthn || ch.authState != "authenticated"
				case "lookup_identity":
					noAuth = true
				}
			}
		}
		switch {
		case !authn && !unauthn && !noAuth:
			c.note(f.src, f.line, Dropped, "no lua.filter check in auth.policy.checks runs it, so Nauthilus never does; left out")
			continue
		case authn && unauthn && !noAuth:
			// backline's default when no flag is written
		default:
			for i, on := range []bool{authn, unauthn, noAuth} {
				appendKV(f.out, whenFlags[i], boolNode(on))
			}
		}
		kept = append(kept, f)
	}
	names := map[string]bool{}
	for _, f := range c.filters {
		names[f.name] = true
	}
	for _, ch := range c.checks {
		if !ch.used && !names[ch.target] {
			c.note(ch.src, ch.line, Dropped, "refers to no Lua filter in this file")
		}
	}
	return kept
}

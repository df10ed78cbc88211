// Package migrate converts other programs' configuration files into
// backline's. Nauthilus (1.x layout: server, lua, backend_server_monitoring;
// 3.x layout: runtime, observability, storage, auth) is the one source so
// far: its health-check targets, Redis, Lua filters and the few server keys
// backline shares carry over; everything else is reported, one line per
// Nauthilus key, with the reason it has no equivalent or what changed.
package migrate

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/backline/backline/internal/config"
)

// Note kinds.
const (
	Dropped = "dropped" // no equivalent in backline; left out of the output
	Changed = "changed" // carried over, but it means something else now
)

// Note is one line of the report: a Nauthilus key path and line, and what
// happened to it. Notes never quote values, so a password cannot leak
// into a terminal or a ticket through them.
type Note struct {
	Path string
	Line int
	Kind string
	Msg  string
}

func (n Note) String() string {
	if n.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s: %s", n.Path, n.Line, n.Kind, n.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", n.Path, n.Kind, n.Msg)
}

// Result is a converted file and its report.
type Result struct {
	YAML  []byte
	Notes []Note
}

// Nauthilus converts a Nauthilus configuration file. The input is read
// under backline's own YAML limits (1 MiB, nesting, alias expansion); an
// error means it could not be read at all (not YAML, not a mapping).
func Nauthilus(data []byte) (*Result, error) {
	root, err := config.ParseYAML(data)
	if err != nil {
		return nil, err
	}
	c := newConverter()
	if root != nil {
		doc := resolve(root.Content[0])
		if doc.Kind != yaml.MappingNode {
			if !(doc.Kind == yaml.ScalarNode && doc.Tag == "!!null") {
				return nil, fmt.Errorf("line %d: a Nauthilus file is a mapping of sections (server, auth, ...), not a %s", doc.Line, kindName(doc))
			}
		} else {
			c.convertRoot(doc)
		}
	}
	c.finish()
	out, err := c.encode()
	if err != nil {
		return nil, err
	}
	sort.SliceStable(c.notes, func(i, j int) bool { return c.notes[i].Line < c.notes[j].Line })
	return &Result{YAML: out, Notes: c.notes}, nil
}

// converter holds the output tree and what must wait for the whole input:
// the passdb order needs lua.config.script_path, filters need the policy
// checks that schedule them, the service flag needs the targets.
type converter struct {
	out    *yaml.Node        // the output's root mapping
	origin map[string]string // output path -> the Nauthilus path it came from
	notes  []Note

	backends     []backendRef // 1.x server.backends / 3.x auth.backends.order
	luaScript    *yaml.Node   // the Lua backend script (lua.config.script_path)
	luaScriptSrc string
	filters      []*filter
	checks       []filterCheck
	checksSeen   bool // auth.policy.checks lists lua.filter/lua.subject checks
	targets      []*yaml.Node
	targetsSrc   string
	targetsLine  int
	serviceOn    bool   // the health-check service (or 1.x feature) is enabled
	serviceSrc   string // where it was enabled
	v1Monitoring bool   // targets came from 1.x backend_server_monitoring
	redisSeen    bool
	redisSrc     string // the first Redis section's path and line
	redisLine    int
	// redisPrefixSeen: a Redis section had a prefix, copied or not.
	redisPrefixSeen bool
	sections        int // Nauthilus sections recognised
}

func newConverter() *converter {
	return &converter{out: &yaml.Node{Kind: yaml.MappingNode}, origin: map[string]string{}}
}

func (c *converter) note(path string, line int, kind, format string, args ...any) {
	c.notes = append(c.notes, Note{Path: printablePath(path), Line: line, Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// maxNotePath bounds a key path in the report: keys come from the input,
// which may hold a megabyte-long or multi-line key.
const maxNotePath = 200

// printablePath keeps a report line one line: control characters are
// escaped and a very long path is cut.
func printablePath(path string) string {
	if strings.IndexFunc(path, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 }) >= 0 {
		q := strconv.QuoteToASCII(path)
		path = q[1 : len(q)-1]
	}
	if len(path) > maxNotePath {
		path = strings.ToValidUTF8(path[:maxNotePath], "") + "..."
	}
	return path
}

// drop reports a key left out, with the reason the table gives for it.
func (c *converter) drop(path string, k *yaml.Node) {
	c.note(path, k.Line, Dropped, "%s", reasonFor(path))
}

// keepOnly walks the mapping n at path: the entry called name goes to
// convert with its own path, every other entry is reported dropped.
func (c *converter) keepOnly(n *yaml.Node, path, name string, convert func(e kv, p string)) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		if e.name == name {
			convert(e, p)
			continue
		}
		c.drop(p, e.key)
	}
}

// set writes val at the dotted output path, creating mappings on the way.
// A value already written from another Nauthilus key wins (the file may
// mix 1.x and 3.x layouts); the later one is reported.
func (c *converter) set(outPath, from string, line int, val *yaml.Node) {
	if first, dup := c.origin[outPath]; dup {
		c.note(from, line, Dropped, "%s was already set from %s; that one is kept", outPath, first)
		return
	}
	c.origin[outPath] = from
	parts := strings.Split(outPath, ".")
	m := c.out
	for _, p := range parts[:len(parts)-1] {
		m = childMapping(m, p)
	}
	m.Content = append(m.Content, scalar(parts[len(parts)-1]), val)
}

// has reports whether outPath was written.
func (c *converter) has(outPath string) bool { _, ok := c.origin[outPath]; return ok }

func childMapping(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.MappingNode {
			return m.Content[i+1]
		}
	}
	child := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, scalar(key), child)
	return child
}

// outputOrder is the order of backline's sections in the output.
var outputOrder = []string{"server", "storage", "auth", "lua"}

func (c *converter) encode() ([]byte, error) {
	reordered := &yaml.Node{Kind: yaml.MappingNode}
	for _, name := range outputOrder {
		for i := 0; i+1 < len(c.out.Content); i += 2 {
			if c.out.Content[i].Value == name {
				reordered.Content = append(reordered.Content, c.out.Content[i], c.out.Content[i+1])
			}
		}
	}
	moveFirst(c.out, "auth.services", "enabled")
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{reordered},
		HeadComment: "Converted from a Nauthilus configuration by `backline migrate nauthilus`.\n" +
			"Check it with `backline check --config FILE` (add --no-secrets away from production)."}
	if len(reordered.Content) == 0 {
		doc.Content[0].Style = yaml.FlowStyle
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding the result: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding the result: %w", err)
	}
	return b.Bytes(), nil
}

// YAML node helpers.

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func boolNode(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(b)}
}

// resolve follows an alias to its anchored node. The config package's
// limits have already refused recursive aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// clone deep-copies n with aliases expanded and anchors removed, keeping
// comments, so the output stands on its own.
func clone(n *yaml.Node) *yaml.Node {
	n = resolve(n)
	c := *n
	c.Anchor, c.Alias = "", nil
	c.Line, c.Column = 0, 0
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = clone(child)
	}
	return &c
}

// kv is one entry of a mapping, aliases resolved.
type kv struct {
	key, val *yaml.Node
	name     string
}

// entries lists a mapping's keys; a node that is not a mapping has none
// (the caller reports it). Merge keys (<<) are expanded in place.
func entries(m *yaml.Node) []kv {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var out []kv
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], resolve(m.Content[i+1])
		if k.Value == "<<" && k.Tag == "!!merge" {
			if v.Kind == yaml.SequenceNode {
				for _, s := range v.Content {
					out = append(out, entries(s)...)
				}
			} else {
				out = append(out, entries(v)...)
			}
			continue
		}
		out = append(out, kv{key: k, val: v, name: k.Value})
	}
	return out
}

// items lists a sequence's elements, aliases resolved.
func items(s *yaml.Node) []*yaml.Node {
	s = resolve(s)
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(s.Content))
	for i, n := range s.Content {
		out[i] = resolve(n)
	}
	return out
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func isTrue(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && strings.EqualFold(strings.TrimSpace(n.Value), "true")
}

func isFalse(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && strings.EqualFold(strings.TrimSpace(n.Value), "false")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "single value"
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// wrongKind reports a section that is not the expected mapping or list.
func (c *converter) wrongKind(path string, n *yaml.Node, want string) {
	c.note(path, n.Line, Dropped, "must be a %s, got a %s", want, kindName(n))
}

// moveFirst puts key first in the mapping at path (auth.services.enabled
// reads best before the checks it switches on).
func moveFirst(root *yaml.Node, path, key string) {
	m := root
	for _, p := range strings.Split(path, ".") {
		var next *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == p && m.Content[i+1].Kind == yaml.MappingNode {
				next = m.Content[i+1]
			}
		}
		if next == nil {
			return
		}
		m = next
	}
	for i := 2; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			pair := []*yaml.Node{m.Content[i], m.Content[i+1]}
			rest := append(append([]*yaml.Node{}, m.Content[:i]...), m.Content[i+2:]...)
			m.Content = append(pair, rest...)
			return
		}
	}
}

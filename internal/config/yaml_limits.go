package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Limits on the shape of the YAML document. yaml.v3 keeps an alias as a
// pointer to its anchored node, so an 11-byte `a: &a [*a]` is a cycle and a
// few hundred bytes of nested aliases stand for billions of nodes: every walk
// over the tree (decoding, the written-key index) would follow them without
// end. The document is measured once, with aliases expanded, before any walk.
const (
	// MaxYAMLDepth bounds the nesting of the expanded document. A backline
	// file is about 8 levels deep (gateway endpoint -> request -> headers).
	MaxYAMLDepth = 64
	// MaxYAMLNodes bounds the expanded document's node count (keys, values,
	// list items). The example file has about 300; a file with a thousand
	// targets about 15,000.
	MaxYAMLNodes = 100_000
	// MaxYAMLText bounds the expanded document's text (keys and values). An
	// alias repeats a long value without repeating its bytes in the file,
	// and each copy may be quoted in an error message.
	MaxYAMLText = 4 << 20
)

// parseYAML returns the document node, or nil for an empty file. A syntax
// error or a document beyond the limits above becomes an Errors so callers
// see one error type.
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, Errors{{Path: "(file)", Line: extra.Line, Msg: "only one YAML document is allowed; remove the second '---'"}}
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(data, err)
	}
	if root.Kind == 0 {
		return nil, nil
	}
	if err := checkExpansion(&root); err != nil {
		return nil, Errors{*err}
	}
	return &root, nil
}

// expansion is the size of a node with its aliases expanded: node count,
// height (0 for a scalar) and text length.
type expansion struct{ nodes, height, text int }

// expansionChecker measures each node once; an alias costs what its target
// costs, so a bomb is recognised in time linear in the file.
type expansionChecker struct {
	limits   yamlLimits
	measured map[*yaml.Node]expansion
	// open holds the nodes being measured: an alias to one of them is a cycle.
	open map[*yaml.Node]bool
	err  *Error
}

// yamlLimits are the bounds one kind of document is measured against; what
// names the kind in messages.
type yamlLimits struct {
	depth, nodes, text int
	what               string
}

var configLimits = yamlLimits{depth: MaxYAMLDepth, nodes: MaxYAMLNodes, text: MaxYAMLText, what: "a configuration"}

func checkExpansion(root *yaml.Node) *Error { return checkExpansionWithin(root, configLimits) }

func checkExpansionWithin(root *yaml.Node, limits yamlLimits) *Error {
	c := &expansionChecker{limits: limits, measured: map[*yaml.Node]expansion{}, open: map[*yaml.Node]bool{}}
	c.measure(root, "", 0)
	return c.err
}

func (c *expansionChecker) fail(n *yaml.Node, path, format string, args ...any) {
	if path == "" {
		path = "(root)"
	}
	c.err = &Error{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

const tooDeep = "nesting is deeper than %d levels (counting what aliases expand to)"

// measure returns the expansion of n, found at depth under path; ok is false
// once a limit is exceeded (c.err says where).
func (c *expansionChecker) measure(n *yaml.Node, path string, depth int) (e expansion, ok bool) {
	if depth > c.limits.depth {
		c.fail(n, path, tooDeep, c.limits.depth)
		return e, false
	}
	target := n
	if n.Kind == yaml.AliasNode {
		if target = n.Alias; target == nil {
			return expansion{nodes: 1}, true // the parser refuses unknown anchors
		}
		if c.open[target] {
			c.fail(n, path, "alias *%s refers to a node that contains it (a recursive alias)", n.Value)
			return e, false
		}
	}
	if m, done := c.measured[target]; done {
		if depth+m.height > c.limits.depth {
			c.fail(n, path, tooDeep, c.limits.depth)
			return e, false
		}
		return m, true
	}

	c.open[target] = true
	e = expansion{nodes: 1, text: len(target.Value)}
	add := func(child *yaml.Node, childPath string, childDepth int) bool {
		m, ok := c.measure(child, childPath, childDepth)
		if !ok {
			return false
		}
		e.nodes += m.nodes
		e.text += m.text
		e.height = max(e.height, m.height+childDepth-depth)
		if e.text > c.limits.text {
			c.fail(child, childPath, "the document expands to more than %d MiB of text (through aliases); %s never needs that much", c.limits.text>>20, c.limits.what)
			return false
		}
		if e.nodes > c.limits.nodes {
			if child.Kind == yaml.AliasNode {
				c.fail(child, childPath, "the document expands to more than %d nodes through aliases (*%s); %s never needs that many", c.limits.nodes, child.Value, c.limits.what)
			} else {
				c.fail(child, childPath, "the document has more than %d nodes; %s never needs that many", c.limits.nodes, c.limits.what)
			}
			return false
		}
		return true
	}
	ok = true
	switch target.Kind {
	case yaml.DocumentNode:
		for _, child := range target.Content {
			if ok = add(child, path, depth); !ok {
				break
			}
		}
	case yaml.MappingNode:
		for i := 0; ok && i < len(target.Content); i++ {
			child, childPath := target.Content[i], path
			if i%2 == 1 {
				childPath = join(path, target.Content[i-1].Value)
			}
			ok = add(child, childPath, depth+1)
		}
	case yaml.SequenceNode:
		for i := 0; ok && i < len(target.Content); i++ {
			ok = add(target.Content[i], fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	}
	delete(c.open, target)
	if ok {
		c.measured[target] = e
	}
	return e, ok
}

var yamlErrorLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner). It prints their line counting from 0, and none for line 0.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxError turns a yaml.v3 error into an Errors with a line. The library
// leaves the line out in three cases: an error on the first line (it takes
// 0 for "unknown"), an unknown anchor, and a character it cannot read (a
// control character or invalid UTF-8). Each is located here, and the
// parser's lines, which count from 0, are made to count from 1.
func syntaxError(data []byte, err error) error {
	const path = "(yaml syntax)"
	msg := err.Error()
	if m := yamlErrorLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if parserProblems[m[2]] {
			line++
		}
		return Errors{{Path: path, Line: line, Msg: m[2]}}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if parserProblems[msg] {
		return Errors{{Path: path, Line: 1, Msg: msg}}
	}
	if line := firstLineError(data, msg); line > 0 {
		return Errors{{Path: path, Line: line, Msg: msg}}
	}
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		name = strings.TrimSuffix(name, "' referenced")
		return Errors{{Path: path, Line: aliasLine(data, name), Msg: msg}}
	}
	if line, problem := badCharacter(data); line > 0 {
		return Errors{{Path: path, Line: line, Msg: problem}}
	}
	return Errors{{Path: path, Msg: msg}}
}

// firstLineError parses data again with an empty first line: an error the
// library reported without a line then comes with line 2, which was line 1.
func firstLineError(data []byte, msg string) int {
	bom := []byte("\xef\xbb\xbf")
	shifted := make([]byte, 0, len(data)+1)
	if bytes.HasPrefix(data, bom) {
		shifted = append(shifted, bom...)
		data = data[len(bom):]
	}
	shifted = append(append(shifted, '\n'), data...)
	var n yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(shifted))
	err := dec.Decode(&n)
	if err == nil {
		err = dec.Decode(&n)
	}
	if err == nil {
		return 0
	}
	if m := yamlErrorLine.FindStringSubmatch(err.Error()); m != nil && m[2] == msg {
		if line, _ := strconv.Atoi(m[1]); line > 1 {
			return line - 1
		}
	}
	return 0
}

// aliasLine returns the line of the first *name token, 0 if none is found.
func aliasLine(data []byte, name string) int {
	token := []byte("*" + name)
	for off := 0; off < len(data); {
		i := bytes.Index(data[off:], token)
		if i < 0 {
			return 0
		}
		start, end := off+i, off+i+len(token)
		off = end
		if end < len(data) && isAnchorChar(data[end]) {
			continue // *names is not *name
		}
		if start > 0 && !strings.ContainsRune(" \t\r\n[{,:-?", rune(data[start-1])) {
			continue
		}
		line, _ := position(data[:start])
		return line
	}
	return 0
}

// position returns the line and column (both from 1) just after prefix,
// counting line breaks as YAML does: LF, CR, CR LF, NEL, LS and PS.
func position(prefix []byte) (line, column int) {
	line, column = 1, 1
	for i := 0; i < len(prefix); {
		r, size := utf8.DecodeRune(prefix[i:])
		i += size
		switch r {
		case '\r':
			if i < len(prefix) && prefix[i] == '\n' {
				i++
			}
			fallthrough
		case '\n', 0x85, 0x2028, 0x2029:
			line, column = line+1, 1
		default:
			column++
		}
	}
	return line, column
}

// isAnchorChar is the character set yaml.v3 accepts in anchor names.
func isAnchorChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-'
}

// badCharacter finds the first character the YAML reader refuses (YAML 1.2
// §5.1: printable characters only) and says where it is. UTF-16 files are
// left to the library.
func badCharacter(data []byte) (line int, problem string) {
	if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
		return 0, ""
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			line, column := position(data[:i])
			return line, fmt.Sprintf("invalid UTF-8 at column %d", column)
		case !yamlPrintable(r):
			line, column := position(data[:i])
			return line, fmt.Sprintf("control character U+%04X at column %d is not allowed in YAML (write it as an escape inside double quotes)", r, column)
		}
		i += size
	}
	return 0, ""
}

func yamlPrintable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// ParseYAML reads one YAML document under the same limits as Load and
// Parse (size, nesting, alias expansion), for tools that read other
// programs' files (backline migrate). nil, nil for an empty document.
func ParseYAML(data []byte) (*yaml.Node, error) {
	if len(data) > MaxConfigFileSize {
		return nil, Errors{{Path: "(file)", Msg: fmt.Sprintf("is larger than %d KiB", MaxConfigFileSize>>10)}}
	}
	return parseYAML(data)
}

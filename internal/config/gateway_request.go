package config

import (
	"fmt"
	"math"

	"go.yaml.in/yaml/v3"
)

// requestBodyKeys are the mutually exclusive body attributes of a request block.
var requestBodyKeys = []string{"body", "json_body", "form_body"}

// JSONBody is request.json_body: any YAML value, sent as JSON. Value holds
// nil, bool, int, uint64, float64, string, []any or map[string]any; strings
// keep their ${request...} placeholders for the gateway. An empty key is
// unset, like every other empty key.
type JSONBody struct {
	Set   bool
	Value any
}

// DecodeNode implements NodeDecoder.
func (j *JSONBody) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	j.Set, j.Value = true, d.jsonValue(n, path)
}

// jsonValue converts n, recording the line of every nested path so a bad
// placeholder deep in the body is still reported at its own line.
func (d *Decoder) jsonValue(n *yaml.Node, path string) any {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.Lines != nil {
		d.Lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			kpath := join(path, k.Value)
			if _, dup := out[k.Value]; dup {
				d.errorf(k, kpath, "key given twice")
				continue
			}
			out[k.Value] = d.jsonValue(n.Content[i+1], kpath)
		}
		return out
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = d.jsonValue(c, fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, path, "%v", err)
			return nil
		}
		if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			d.errorf(n, path, "%s cannot be written in JSON", n.Value)
			return nil
		}
		return x
	}
	s, _ := d.scalar(n, path)
	return s
}

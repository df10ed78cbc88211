package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one configuration problem, located by key path and YAML line.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Errors collects every problem in a file so an operator can fix them in one go.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Add records a problem at path/line.
func (es *Errors) Add(path string, line int, format string, args ...any) {
	*es = append(*es, Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Err returns nil when nothing was recorded, so callers can `return errs.Err()`.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Lines remembers where each key path was written, so validation that runs
// after decoding can still point at the right line.
type Lines map[string]int

// Line returns the line of path, or of the nearest parent that was written.
func (l Lines) Line(path string) int {
	for path != "" {
		if n, ok := l[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// NodeDecoder lets a type take over decoding of its own YAML node (for
// example a backend reference that is either a label string or a mapping).
type NodeDecoder interface {
	DecodeNode(d *Decoder, n *yaml.Node, path string)
}

// Decoder maps a yaml.Node tree onto tagged structs. Unlike yaml.v3's own
// decoder it keeps going after an error, reports every unknown key and names
// each problem by its dotted key path and line.
type Decoder struct {
	Errs  Errors
	Lines Lines
	// Env resolves ${NAME} in string values; nil means os.LookupEnv.
	Env func(string) (string, bool)
	// missingEnv, when set, stands in for an unset variable instead of an
	// error (LoadOptions.NoSecrets).
	missingEnv func(path string, line int, name string) string
}

// NewDecoder returns a decoder with empty error and line tables.
func NewDecoder() *Decoder { return &Decoder{Lines: Lines{}} }

var (
	durationType = reflect.TypeFor[time.Duration]()
	// envPattern matches ${NAME} and its escape $${NAME}.
	envPattern = regexp.MustCompile(`\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// Decode fills out (a pointer) from n; path is the key path of n ("" for the root).
func (d *Decoder) Decode(n *yaml.Node, out any, path string) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		panic("config: Decode needs a non-nil pointer")
	}
	d.decode(n, v.Elem(), path)
}

func (d *Decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	if path == "" {
		path = "(root)"
	}
	d.Errs.Add(path, line, format, args...)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *Decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.Lines != nil && path != "" {
		d.Lines[path] = n.Line
	}
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(NodeDecoder); ok {
			nd.DecodeNode(d, n, path)
			return
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty key keeps the default
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if v.Type() == durationType {
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		dur, err := ParseDuration(s)
		if err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "must be a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "must be a mapping")
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, elem, join(path, k.Value))
			if d.Lines != nil {
				d.Lines[join(path, k.Value)] = k.Line // the key, as for struct fields
			}
			v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
		}
	case reflect.String:
		if s, ok := d.scalar(n, path); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path); ok {
			b, err := strconv.ParseBool(strings.ToLower(s))
			if err != nil {
				d.errorf(n, path, "must be true or false, got %q", s)
				return
			}
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if s, ok := d.scalar(n, path); ok {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				d.errorf(n, path, "must be a whole number, got %q", s)
				return
			}
			v.SetInt(i)
		}
	case reflect.Float64:
		if s, ok := d.scalar(n, path); ok {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				d.errorf(n, path, "must be a number, got %q", s)
				return
			}
			v.SetFloat(f)
		}
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(&x).Elem())
	default:
		panic("config: unsupported field kind " + v.Kind().String())
	}
}

// scalar returns the node's text with ${NAME} expanded. An unset variable is
// an error rather than an empty string: a silently empty password or host is
// worse than a refusal to start. $${NAME} is a literal ${NAME}.
//
// Gateway values (definitions, gateway) are templates the gateway compiles
// later, with $${ as its own escape: there $${NAME} is left for it, and a
// "${" inside a variable's value is escaped so a password is never read as
// a placeholder.
func (d *Decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "must be a single value, not a %s", kindName(n.Kind))
		return "", false
	}
	s := n.Value
	if !strings.Contains(s, "${") {
		return s, true
	}
	lookup := d.Env
	if lookup == nil {
		lookup = os.LookupEnv
	}
	templated := strings.HasPrefix(path, "definitions.") || strings.HasPrefix(path, "gateway.")
	ok := true
	s = envPattern.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "$$") {
			if templated {
				return m
			}
			return m[1:]
		}
		name := m[2 : len(m)-1]
		if templated && name == "beta_token" {
			return m // the gateway's token placeholder, not a variable
		}
		if val, found := lookup(name); found {
			if templated {
				val = strings.ReplaceAll(val, "${", "$${")
			}
			if escapesDecodedLater(path) {
				// A password with a backslash is sent as it is, not
				// read as an escape of the value around it.
				val = strings.ReplaceAll(val, `\`, `\\`)
			}
			return val
		}
		if d.missingEnv != nil {
			return d.missingEnv(path, n.Line, name)
		}
		d.errorf(n, path, "environment variable %s is not set", name)
		ok = false
		return ""
	})
	return s, ok
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "value"
	}
}

func (d *Decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping")
		return
	}
	fields := structFields(v.Type())
	// seen is keyed by field, so a key and its alias (beta_rate_limit and
	// throttle) cannot both be written and one silently win.
	seen := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		kpath := join(path, key)
		idx, ok := fields[key]
		if !ok {
			d.errorf(k, kpath, "unknown key (known keys: %s)", knownKeys(fields))
			continue
		}
		field := fmt.Sprint(idx)
		if first, dup := seen[field]; dup {
			if first == key {
				d.errorf(k, kpath, "key given twice")
			} else {
				d.errorf(k, kpath, "key given twice: %q and %q name the same setting", first, key)
			}
			continue
		}
		seen[field] = key
		d.decode(val, v.FieldByIndex(idx), kpath)
		if d.Lines != nil {
			d.Lines[kpath] = k.Line
		}
	}
}

// structFields maps yaml keys to field indexes; `yaml:"a,alias=b"` accepts b too.
func structFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && tag == "" {
			for k, idx := range structFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		parts := strings.Split(tag, ",")
		name := parts[0]
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
		for _, p := range parts[1:] {
			if a, ok := strings.CutPrefix(p, "alias="); ok {
				out[a] = []int{i}
			}
		}
	}
	return out
}

func knownKeys(fields map[string][]int) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// ParseDuration accepts Go durations ("1m30s", "250ms") and a bare number of
// seconds. Negative values are rejected here, at load time.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case math.IsNaN(n) || math.IsInf(n, 0) && err == nil:
			// ParseFloat accepts "NaN" and "Inf"; neither is a duration.
			return 0, fmt.Errorf("invalid duration %q (use units such as 500ms, 5s, 2m, 1h)", s)
		case n < 0:
			return 0, fmt.Errorf("duration %q must not be negative", s)
		case err != nil || n*float64(time.Second) >= math.MaxInt64:
			// Converting an out-of-range float to Duration wraps to a negative value.
			return 0, fmt.Errorf("duration %q is too large", s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use units such as 500ms, 5s, 2m, 1h)", s)
	}
	if dur < 0 {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	return dur, nil
}

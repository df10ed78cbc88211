package config

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the file at path and parses it (see Parse). Relative file names
// inside the file (test_password_file, tls_ca_file, ...) are resolved against
// the working directory, as an operator running the daemon by hand expects.
func Load(path string) (*Config, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// LoadServer reads the file at path like Load but decodes and checks only
// its server section (address, api_auth, ...); the other sections count as
// absent. It is for tools that talk to the daemon (backline ctl), which
// must not need the environment variables of health-check or gateway
// secrets the daemon's service defines.
func LoadServer(path string) (*Config, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	return parseRoot(serverOnly(root))
}

// serverOnly is root with its top-level mapping reduced to the server key.
func serverOnly(root *yaml.Node) *yaml.Node {
	if root == nil || root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return root // not a mapping: Parse reports it as it does for Load
	}
	m := root.Content[0]
	kept := *m
	kept.Content = nil
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "server" {
			kept.Content = append(kept.Content, m.Content[i], m.Content[i+1])
		}
	}
	doc := *root
	doc.Content = []*yaml.Node{&kept}
	return &doc
}

func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigFileSize+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("config: %w", err)
	case len(data) > MaxConfigFileSize:
		return nil, fmt.Errorf("config: file %q is larger than %d KiB", path, MaxConfigFileSize>>10)
	}
	return data, nil
}

// Parse decodes, defaults, normalises and validates one YAML document. On
// failure the error is an Errors holding every problem, sorted by line.
// Every section is optional; an empty document is a valid, idle config.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxConfigFileSize {
		return nil, Errors{{Path: "(file)", Msg: fmt.Sprintf("is larger than %d KiB", MaxConfigFileSize>>10)}}
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	return parseRoot(root)
}

// parseRoot is Parse after the YAML syntax was read.
func parseRoot(root *yaml.Node) (*Config, error) { return parseRootWith(root, LoadOptions{}) }

func parseRootWith(root *yaml.Node, o LoadOptions) (*Config, error) {
	d := NewDecoder()
	c := &Config{noSecrets: o.NoSecrets}
	if o.NoSecrets {
		d.missingEnv = func(path string, line int, name string) string {
			c.noSecretWarnings = append(c.noSecretWarnings, Error{Path: path, Line: line,
				Msg: "environment variable " + name + " is not set (--no-secrets: checked with a stand-in)"})
			return noSecretStandIn
		}
	}
	if root != nil {
		d.Decode(root, c, "")
	}
	c.Lines = d.Lines

	v := &validator{c: c, written: writtenPaths(root), noSecrets: o.NoSecrets}
	c.applyServerDefaults()
	c.Auth.Services.BackendHealthChecks.applyDefaults(func(key string) bool {
		return v.written[join(healthChecksPath, key)]
	})
	v.validate()
	v.validateStorage()
	v.validateAuthCacheKey()
	// The other sections validate after the health-check defaults are in,
	// since gateway health checks inherit some of them.
	c.validateAuth(&v.errs)
	c.validateAuthRequest(&v.errs)
	c.validateLua(&v.errs)
	c.validateGateway(&v.errs)

	all := append(d.Errs, withoutShadowed(v.errs, d.Errs)...)
	if len(all) > 0 {
		sortByLine(all)
		addNauthilusHint(all)
		return nil, capErrors(all)
	}
	return c, nil
}

// writtenPaths lists every key path that has a non-null value in the file,
// so defaults can tell "left out" from "written as 0".
func writtenPaths(root *yaml.Node) map[string]bool {
	out := map[string]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if path != "" {
			out[path] = true
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], join(path, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	if root != nil {
		walk(root, "")
	}
	return out
}

// withoutShadowed drops validation errors about a key the decoder already
// rejected: "must be a whole number" followed by "must be 1..65535" for the
// same port is noise.
// A set and a walk up each path keep this linear: comparing every pair took
// seconds for a file of a few thousand broken targets.
func withoutShadowed(errs, decodeErrs Errors) Errors {
	if len(decodeErrs) == 0 {
		return errs
	}
	rejected := make(map[string]bool, len(decodeErrs))
	for _, de := range decodeErrs {
		rejected[de.Path] = true
	}
	out := errs[:0:0]
	for _, e := range errs {
		if !underRejected(e.Path, rejected) {
			out = append(out, e)
		}
	}
	return out
}

// underRejected reports whether path or one of its parents (cut at "." or
// "[") is in rejected.
func underRejected(path string, rejected map[string]bool) bool {
	for {
		if rejected[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return false
		}
		path = path[:i]
	}
}

// MaxReportedErrors caps the errors Parse returns: past a hundred, more
// lines help no one, and a hostile file could produce one per node.
const MaxReportedErrors = 100

// capErrors keeps the first MaxReportedErrors (in file order) and says how
// many were left out.
func capErrors(errs Errors) Errors {
	if len(errs) <= MaxReportedErrors {
		return errs
	}
	kept := append(errs[:MaxReportedErrors:MaxReportedErrors], Error{Path: "(file)",
		Msg: fmt.Sprintf("%d more errors not shown; fix the ones above first", len(errs)-MaxReportedErrors)})
	return kept
}

// sortByLine orders errors as they appear in the file; errors without a line
// (about keys that were left out) come last.
func sortByLine(errs Errors) {
	sort.SliceStable(errs, func(i, j int) bool {
		li, lj := errs[i].Line, errs[j].Line
		if li == 0 || lj == 0 {
			return lj == 0 && li != 0
		}
		return li < lj
	})
}

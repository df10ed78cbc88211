package migrate

import (
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/backline/backline/internal/config"
)

// yamlKeys lists the keys a config struct accepts, aliases included, so
// the converter copies exactly what backline understands.
func yamlKeys(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		parts := strings.Split(tag, ",")
		out[parts[0]] = true
		for _, p := range parts[1:] {
			if a, ok := strings.CutPrefix(p, "alias="); ok {
				out[a] = true
			}
		}
	}
	return out
}

var (
	targetKeys = yamlKeys(reflect.TypeFor[config.Target]())
	headerKeys = yamlKeys(reflect.TypeFor[config.RequestHeaders]())
)

// targetList is 1.x backend_server_monitoring.backend_servers and 3.x
// auth.services.backend_health_checks.targets.
func (c *converter) targetList(k, n *yaml.Node, path string, v1 bool) {
	if n.Kind != yaml.SequenceNode {
		if !isNull(n) {
			c.wrongKind(path, n, "list")
		}
		return
	}
	if c.targetsSrc == "" {
		c.targetsSrc, c.targetsLine = path, k.Line
	}
	for i, t := range items(n) {
		if out := c.target(t, index(path, i), v1); out != nil {
			c.targets = append(c.targets, out)
		}
	}
}

// target copies one target and adjusts what backline would refuse or read
// differently, saying why.
func (c *converter) target(n *yaml.Node, path string, v1 bool) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		c.wrongKind(path, n, "mapping")
		return nil
	}
	out := &yaml.Node{Kind: yaml.MappingNode, HeadComment: n.HeadComment, LineComment: n.LineComment}
	fields := map[string]*yaml.Node{}
	for _, e := range entries(n) {
		p := join(path, e.name)
		if !targetKeys[e.name] {
			c.drop(p, e.key)
			continue
		}
		if _, dup := fields[e.name]; dup {
			c.note(p, e.key.Line, Dropped, "given twice; the first is kept")
			continue
		}
		fields[e.name] = e.val
		out.Content = append(out.Content, clone(e.key), clone(e.val))
	}
	text := func(key string) string {
		if v := fields[key]; v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
			return strings.TrimSpace(v.Value)
		}
		return ""
	}
	flag := func(key string) bool { v := fields[key]; return v != nil && isTrue(v) }

	proto := strings.ToLower(text("protocol"))
	deep, tls := flag("deep_check"), flag("tls")
	mode := strings.ToLower(text("tls_mode"))
	user := text("test_username")
	pass := text("test_password") != "" || text("test_password_file") != ""

	// Nauthilus logs in only with both credentials; backline refuses half.
	switch {
	case user != "" && !pass:
		removeKey(out, "test_username")
		c.note(join(path, "test_username"), n.Line, Changed, "has no test_password; Nauthilus ignores a lone username, backline refuses it, so it is left out")
		user = ""
	case user == "" && pass:
		removeKey(out, "test_password")
		removeKey(out, "test_password_file")
		c.note(join(path, "test_password"), n.Line, Changed, "has no test_username; Nauthilus ignores a lone password, backline refuses it, so it is left out")
		pass = false
	}

	plain := !tls && (mode == "" && proto != "sieve" || mode == "plain")
	if deep && user != "" && pass && plain {
		c.plaintextCredentials(out, path, n.Line, proto, text("host"), v1)
	}
	if proto == "sieve" && !deep && !tls && mode == "" {
		appendKV(out, "tls_mode", scalar("plain"))
		c.note(path, n.Line, Changed, "sieve without deep_check: written with tls_mode: plain, a TCP connect check (backline's sieve default, STARTTLS, runs only in a deep check)")
	}
	if v1 && deep && user != "" && pass && text("auth_mechanism") == "" {
		c.note(path, n.Line, Changed, "1.x logged in with IMAP LOGIN, POP3 USER/PASS, SMTP AUTH LOGIN or Sieve PLAIN; backline picks from the server's capabilities (auth_mechanism: auto, PLAIN first); set auth_mechanism to pin one")
	}
	return out
}

// plaintextCredentials handles a deep check that would send its test
// password without TLS: Nauthilus 1.x did, 3.x fails the check, backline
// refuses the file.
func (c *converter) plaintextCredentials(out *yaml.Node, path string, line int, proto, host string, v1 bool) {
	before := "Nauthilus 3.x fails such a check (credentials only over TLS)"
	if v1 {
		before = "Nauthilus 1.x sent the test password in clear text"
	}
	switch {
	case config.IsLoopbackHost(host):
		appendKV(out, "allow_plaintext_auth", boolNode(true))
		c.note(path, line, Changed, "%s; the host is loopback, so allow_plaintext_auth: true keeps the login", before)
	case proto == "imap" || proto == "pop3" || proto == "smtp" || proto == "lmtp":
		appendKV(out, "tls_mode", scalar("starttls"))
		c.note(path, line, Changed, "%s; written with tls_mode: starttls (backline sends credentials only over TLS): the backend must offer STARTTLS, or give its TLS port with tls: true", before)
	default:
		removeKey(out, "test_username")
		removeKey(out, "test_password")
		removeKey(out, "test_password_file")
		c.note(path, line, Changed, "%s; without TLS backline sends no credentials, so they are left out and the deep check stops before the login", before)
	}
}

func appendKV(m *yaml.Node, key string, val *yaml.Node) {
	m.Content = append(m.Content, scalar(key), val)
}

func removeKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// requestHeaders is 1.x server.default_http_request_header and 3.x
// auth.request.headers: backline reads the same keys.
func (c *converter) requestHeaders(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		if headerKeys[e.name] {
			c.set("auth.request.headers."+e.name, p, e.key.Line, clone(e.val))
			continue
		}
		c.note(p, e.key.Line, Dropped, "backline does not read this request header")
	}
}

package migrate

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// listenerTLS is 1.x server.tls and 3.x runtime.servers.http.tls:
// enabled, cert, key and min_tls_version carry over to server.tls;
// cipher suites and the outgoing client's skip_verify do not. A block that
// is not enabled is left out (backline's listener then speaks plain HTTP,
// as Nauthilus's did).
func (c *converter) listenerTLS(n *yaml.Node, path string, line int) {
	if n.Kind != yaml.MappingNode {
		c.wrongKind(path, n, "mapping")
		return
	}
	var enabled *kv
	es := entries(n)
	for i := range es {
		if es[i].name == "enabled" {
			enabled = &es[i]
		}
	}
	if enabled == nil || !isTrue(enabled.val) {
		c.note(path, line, Dropped, "TLS is not enabled; backline's listener speaks plain HTTP without server.tls")
		return
	}
	for _, e := range es {
		p := join(path, e.name)
		switch e.name {
		case "enabled":
		case "cert":
			c.set("server.tls.cert_file", p, e.key.Line, clone(e.val))
		case "key":
			c.set("server.tls.key_file", p, e.key.Line, clone(e.val))
		case "min_tls_version":
			v := strings.ToUpper(strings.TrimSpace(resolve(e.val).Value))
			switch v {
			case "TLS1.2", "TLS12", "1.2":
				c.set("server.tls.min_version", p, e.key.Line, scalar("1.2"))
			case "TLS1.3", "TLS13", "1.3":
				c.set("server.tls.min_version", p, e.key.Line, scalar("1.3"))
			default:
				c.set("server.tls.min_version", p, e.key.Line, scalar("1.2"))
				c.note(p, e.key.Line, Changed, "backline offers TLS 1.2 at least: written as min_version \"1.2\"")
			}
		case "cipher_suites":
			c.note(p, e.key.Line, Dropped, "backline uses Go's default cipher suites")
		case "http_client_skip_verify":
			c.note(p, e.key.Line, Dropped, "configures Nauthilus's outgoing HTTP client, which backline's listener does not have")
		default:
			c.drop(p, e.key)
		}
	}
}

package config

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Websockets is a proxy block's websockets setting (Couper: the
// websockets attribute or block). `websockets: true` allows WebSocket
// upgrades; a mapping also sets header modifiers for the upgrade request
// and its 101 answer, the tunnel's total timeout, and (backline's own)
// further Upgrade protocols to forward.
type Websockets struct {
	Enabled bool
	// Timeout replaces the backend's timeout for upgraded requests: the
	// whole life of the connection, handshake included. Unset: the
	// backend's timeout applies.
	Timeout    time.Duration
	HasTimeout bool
	// Protocols are the Upgrade tokens forwarded, lower case; default
	// ["websocket"].
	Protocols []string
	Modifiers WebsocketsModifiers
}

// WebsocketsModifiers are the header modifiers a websockets block allows.
type WebsocketsModifiers struct {
	RemoveRequestHeaders  []string `yaml:"remove_request_headers"`
	SetRequestHeaders     Values   `yaml:"set_request_headers"`
	AddRequestHeaders     Values   `yaml:"add_request_headers"`
	RemoveResponseHeaders []string `yaml:"remove_response_headers"`
	SetResponseHeaders    Values   `yaml:"set_response_headers"`
	AddResponseHeaders    Values   `yaml:"add_response_headers"`
}

// AsModifiers is m as the general modifier set (query and form unset).
func (m *WebsocketsModifiers) AsModifiers() Modifiers {
	return Modifiers{
		RemoveRequestHeaders: m.RemoveRequestHeaders, SetRequestHeaders: m.SetRequestHeaders, AddRequestHeaders: m.AddRequestHeaders,
		RemoveResponseHeaders: m.RemoveResponseHeaders, SetResponseHeaders: m.SetResponseHeaders, AddResponseHeaders: m.AddResponseHeaders,
	}
}

type websocketsBlock struct {
	Timeout   *time.Duration `yaml:"timeout"`
	Protocols []string       `yaml:"protocols"`
	WebsocketsModifiers
}

// DecodeNode implements NodeDecoder: a bool or a mapping.
func (w *Websockets) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
	case n.Kind == yaml.ScalarNode && n.Tag == "!!bool":
		w.Enabled = n.Value == "true"
	case n.Kind == yaml.MappingNode:
		var b websocketsBlock
		d.decode(n, reflectValue(&b), path)
		w.Enabled = true
		if b.Timeout != nil {
			w.Timeout, w.HasTimeout = *b.Timeout, true
		}
		w.Protocols = b.Protocols
		w.Modifiers = b.WebsocketsModifiers
	default:
		d.errorf(n, path, "must be true, false or a mapping (timeout, protocols, header modifiers)")
	}
}

// forbiddenUpgrades are protocols that must never be tunnelled: h2c over
// an Upgrade lets a client talk HTTP/2 to the origin past every check of
// the gateway (h2c smuggling).
var forbiddenUpgrades = map[string]bool{"h2c": true, "h2": true, "http/2": true, "http/2.0": true}

func (v *gatewayValidator) validateWebsockets(path string, w *Websockets) {
	if !w.Enabled {
		return
	}
	if w.HasTimeout && w.Timeout < 0 {
		v.add(path+".timeout", "must not be negative")
	}
	if len(w.Protocols) == 0 {
		w.Protocols = []string{"websocket"}
	}
	for i, p := range w.Protocols {
		p = strings.ToLower(strings.TrimSpace(p))
		w.Protocols[i] = p
		kp := fmt.Sprintf("%s.protocols[%d]", path, i)
		switch {
		case !validToken(strings.ReplaceAll(p, "/", "")):
			v.add(kp, "%q is not an Upgrade protocol token", p)
		case forbiddenUpgrades[p]:
			v.add(kp, "%q cannot be tunnelled: an h2c upgrade would let clients talk HTTP/2 to the origin past the gateway", p)
		}
	}
	m := w.Modifiers.AsModifiers()
	v.validateModifiers(path, &m)
}

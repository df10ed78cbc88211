package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// nginxPorts knows which port of a health-checked target nginx may be
// given. nginx's mail proxy speaks only plain text to its upstream (it
// starts no TLS there): given an implicit-TLS port, the client hangs after
// LOGIN. So a target's proxy_port, when set, replaces the checked port, and
// an implicit-TLS target without one is never handed to nginx.
type nginxPorts struct {
	proxyPort map[string]int // by target name; 0 or absent: the checked port
	log       *slog.Logger
	warned    sync.Map // target name -> struct{}: one WARN per target
}

func newNginxPorts(targets []config.Target, log *slog.Logger) *nginxPorts {
	p := &nginxPorts{proxyPort: make(map[string]int, len(targets)), log: log}
	for _, t := range targets {
		if t.ProxyPort > 0 {
			p.proxyPort[t.Name] = t.ProxyPort
		}
	}
	return p
}

// port returns the port nginx gets for t, or 0 if nginx cannot speak to t.
func (p *nginxPorts) port(t *health.TargetInfo) int {
	if pp := p.proxyPort[t.Name]; pp > 0 {
		return pp
	}
	if t.TLSMode == probe.TLSImplicit {
		if _, done := p.warned.LoadOrStore(t.Name, struct{}{}); !done {
			p.log.LogAttrs(context.Background(), slog.LevelWarn,
				"target uses implicit TLS and has no proxy_port; not handed to nginx",
				slog.String("target", t.Name), slog.String("address", t.Address()))
		}
		return 0
	}
	return t.Port
}

// usable splits the healthy backends into those nginx can be given and a
// note on the rest for the log.
func (p *nginxPorts) usable(healthy []health.Backend) (out []health.Backend, skipped string) {
	var names []string
	out = healthy[:0:0]
	for _, b := range healthy {
		if p.port(b.Target) > 0 {
			out = append(out, b)
		} else {
			names = append(names, b.Target.Name)
		}
	}
	if len(names) > 0 {
		skipped = "skipped " + strings.Join(names, ", ") + ": implicit TLS without proxy_port"
	}
	return out, skipped
}

// selected maps a filter's select_backend_server(host, port) onto the port
// nginx gets: a health-checked target's proxy_port when the selection names
// its host and checked port. A selection of an implicit-TLS target without
// proxy_port is an error; one that names no target is taken as it is.
func (p *nginxPorts) selected(snap *health.Snapshot, host string, port int) (int, error) {
	if snap == nil {
		return port, nil
	}
	for _, b := range snap.Backends {
		t := b.Target
		if b.Group != health.GroupMail || t == nil || t.Host != host || t.Port != port {
			continue
		}
		if np := p.port(t); np > 0 {
			return np, nil
		}
		return 0, fmt.Errorf("filter selected %s (%s), which uses implicit TLS and has no proxy_port; nginx cannot speak to it",
			t.Name, joinHostPort(host, port))
	}
	return port, nil
}

// noUsableBackend is the tempfail reason when healthy targets exist but none
// can be handed to nginx.
func noUsableBackend(protocol, skipped string) string {
	return "no healthy backend nginx can speak to for protocol " + strconv.Quote(protocol) + " (" + skipped + ")"
}

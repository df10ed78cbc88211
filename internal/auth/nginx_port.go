package auth

import (
	"context"
	"log/slog"
	"strconv"
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

// backendPort returns the port a proxy gets for b, or 0 if nginx cannot
// speak to it.
func (p *nginxPorts) backendPort(b *health.Backend) int {
	t := b.Target
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

// noUsableBackend is the tempfail reason when healthy targets exist but none
// can be handed to nginx.
func noUsableBackend(protocol, skipped string) string {
	return "no healthy backend nginx can speak to for protocol " + strconv.Quote(protocol) + " (" + skipped + ")"
}

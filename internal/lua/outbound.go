package lua

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/backline/backline/internal/config"
)

// Outbound connections of Lua modules (glua_http, nauthilus_mail) go only
// where the operator's allow list says: default deny. A host written as a
// name is allowed when a name entry matches it (then whatever it resolves
// to is dialled: the operator trusts the name); a host written as an
// address when an address or CIDR entry holds it. A name that matches no
// entry is refused before any DNS lookup, so a script cannot use refused
// names to send data to a resolver either.

type allowList struct {
	key      string // the config key, for error messages
	patterns []config.HostPattern
}

func newAllowList(key string, entries []string) allowList {
	a := allowList{key: key}
	for _, e := range entries {
		p, err := config.ParseHostPattern(e)
		if err != nil {
			continue // refused by config validation
		}
		a.patterns = append(a.patterns, p)
	}
	return a
}

var errNotAllowed = errors.New("not allowed")

func (a allowList) refuse(host string, port int) error {
	return fmt.Errorf("%s is not allowed (%s): %w", net.JoinHostPort(truncateText(host, 64), strconv.Itoa(port)), a.key, errNotAllowed)
}

// nameAllowed reports whether host:port matches a name entry.
func (a allowList) nameAllowed(name string, port int) bool {
	for _, p := range a.patterns {
		if p.Name != "" && p.Matches(name, netip.Addr{}, port) {
			return true
		}
	}
	return false
}

func (a allowList) addrAllowed(name string, addr netip.Addr, port int) bool {
	for _, p := range a.patterns {
		if p.Name == "" && p.Matches(name, addr, port) {
			return true
		}
	}
	return false
}

// dial connects to host:port over TCP if the allow list permits it.
func (a allowList) dial(ctx context.Context, host string, port int) (net.Conn, error) {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if port < 1 || port > 65535 || name == "" {
		return nil, a.refuse(host, port)
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		if !a.addrAllowed(name, ip.Unmap(), port) {
			return nil, a.refuse(host, port)
		}
		addrs = []netip.Addr{ip.Unmap()}
	} else {
		if !a.nameAllowed(name, port) {
			return nil, a.refuse(host, port)
		}
		found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
		if err != nil {
			return nil, fmt.Errorf("cannot resolve %s: %w", truncateText(host, 64), err)
		}
		addrs = found
	}
	var d net.Dialer
	var lastErr error
	for _, addr := range addrs {
		conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("%s has no address", truncateText(host, 64))
	}
	return nil, lastErr
}

// outboundRootsKey names a Host value tests set to trust their own CA;
// nil means the system roots.
const outboundRootsKey = "outbound.root_cas"

func (h *Host) outboundRoots() *x509.CertPool {
	h.mu.Lock()
	defer h.mu.Unlock()
	pool, _ := h.values[outboundRootsKey].(*x509.CertPool)
	return pool
}

// permits reports, without any lookup, whether host:port may be contacted
// (redirect targets are checked with it before they are followed).
func (a allowList) permits(host string, port int) bool {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return a.addrAllowed(name, ip.Unmap(), port)
	}
	return a.nameAllowed(name, port)
}

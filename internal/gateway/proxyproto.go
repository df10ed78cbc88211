package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/backline/backline/internal/config"
)

// proxy_protocol: a backend may open each origin connection with a PROXY
// protocol header (v1 text, v2 binary) naming the client, for origins
// behind L4 stacks that take the client's address from it. The header
// goes out once, right after the TCP connect and before TLS; everything
// after it is the connection as without it.
//
// A connection's header names one client for its whole life, so pools are
// keyed by the client's address (poolKey.client): a keep-alive or
// HTTP/2 connection is only ever reused for requests of the same client
// address, never shared between clients (Caddy keys its connections the
// same way since it stopped turning keep-alive off for proxy_protocol;
// HAProxy keeps such connections private to the client).

// proxyProtocolVersion is the header version for the config value; 0: off.
func proxyProtocolVersion(v string) byte {
	switch v {
	case config.ProxyProtocolV1:
		return 1
	case config.ProxyProtocolV2:
		return 2
	}
	return 0
}

// proxySourceKey carries the request's client address and port to the
// dialer (the pool key holds the address only).
type proxySourceKey struct{}

// proxySource is the client as the gateway believes it: the TCP peer, or,
// behind gateway.trusted_proxies, the address X-Forwarded-For names (the
// value client_ip_hash balances on). The port is the peer's when the peer
// is the client, else 0: X-Forwarded-For carries no port. Invalid when the
// request has no client (a token fetch of backline's own).
func (c *call) proxySource() netip.AddrPort {
	r := c.clientRequest()
	if r == nil {
		return netip.AddrPort{}
	}
	v := newForwardedView(r, c.g.trusted)
	addr, pos, ok := v.clientPlace()
	if !ok {
		return netip.AddrPort{}
	}
	var port uint16
	if pos == 0 {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			port = ap.Port()
		}
	}
	return netip.AddrPortFrom(addr, port)
}

// proxyClient is the client address that picks c's pool under
// proxy_protocol; zero without it.
func (c *call) proxyClient() netip.Addr {
	if c.bv.rt.transports.proxyProtocol == 0 {
		return netip.Addr{}
	}
	return c.proxySource().Addr()
}

// withProxySource hands the request's client to a dial of its pool.
func withProxySource(ctx context.Context, src netip.AddrPort) context.Context {
	return context.WithValue(ctx, proxySourceKey{}, src)
}

// sendProxyHeader writes the header on a new origin connection c of the
// pool for client. The source is the dialing request's client (its port
// too); a dial without one (net/http may dial for a pool on a context of
// its own) names the pool's client with port 0, and a pool without a
// client sends LOCAL (v1: UNKNOWN), the form the specification gives a
// connection the proxy opens for itself.
func (s *transportSet) sendProxyHeader(ctx context.Context, c net.Conn, client netip.Addr) error {
	src, ok := ctx.Value(proxySourceKey{}).(netip.AddrPort)
	if !ok || src.Addr() != client {
		src = netip.AddrPortFrom(client, 0)
	}
	h := proxyHeader(s.proxyProtocol, src, c.RemoteAddr())
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
		defer c.SetWriteDeadline(time.Time{})
	}
	if _, err := h.WriteTo(c); err != nil {
		return &proxyHeaderError{version: s.proxyProtocol, backend: s.name, addr: c.RemoteAddr().String(), err: err}
	}
	return nil
}

// proxyHeaderError is a PROXY header that could not be written on a new
// origin connection (timed out, reset): the connect itself went through,
// so it is not told as a dial error. Like one, it counts as a connect
// failure for retry_on (isConnectFailure): nothing of the request was
// sent yet.
type proxyHeaderError struct {
	version       byte
	backend, addr string
	err           error
}

func (e *proxyHeaderError) Error() string {
	return fmt.Sprintf("sending the PROXY v%d header to %s '%s' failed: %v", e.version, e.backend, e.addr, e.err)
}

func (e *proxyHeaderError) Unwrap() error { return e.err }

// proxyHeader is the header naming src and the origin's address dst as the
// connection reached it. IPv4 (an IPv4-mapped src arrives unmapped) goes
// as TCP4 when both ends are IPv4, else both as IPv6, the IPv4 end mapped.
func proxyHeader(version byte, src netip.AddrPort, dst net.Addr) *proxyproto.Header {
	var dstAddr netip.Addr
	d, ok := dst.(*net.TCPAddr)
	if ok = ok && d != nil; ok {
		dstAddr, ok = netip.AddrFromSlice(d.IP)
	}
	if !ok || !src.Addr().IsValid() {
		return &proxyproto.Header{Version: version, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}
	}
	dstPort := netip.AddrPortFrom(dstAddr.Unmap(), uint16(d.Port))
	srcPort := netip.AddrPortFrom(src.Addr().Unmap().WithZone(""), src.Port())
	return proxyproto.HeaderProxyFromAddrs(version, net.TCPAddrFromAddrPort(srcPort), net.TCPAddrFromAddrPort(dstPort))
}

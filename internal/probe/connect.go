package probe

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pires/go-proxyproto"
)

// proxyV2Signature starts every PROXY protocol v2 header.
var proxyV2Signature = []byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// proxyV2Local is the whole LOCAL header: version 2, command LOCAL, family
// UNSPEC, no addresses. The backend then uses the socket addresses, which is
// what a health check wants.
var proxyV2Local = append(append([]byte{}, proxyV2Signature...), 0x20, 0x00, 0x00, 0x00)

// connect runs the connect phase: TCP, the PROXY v2 header, implicit TLS.
// On success the returned conn is ready for the greeting; it is a *tls.Conn
// when TLS ran. On failure nothing is left open. verdict (a connect-only
// check, whose conn nobody reads) waits for a TLS 1.3 server's verdict on
// the client certificate (awaitCertVerdict), which consumes what the
// server sends first; a deep check reads that verdict with the greeting.
// stop detaches the ctx watcher that closes the raw conn on cancellation;
// call it when the check is over.
func (p *Prober) connect(ctx context.Context, t *Target, res *Result, verdict, rec bool) (conn net.Conn, stop func() bool, err error) {
	start := time.Now()
	raw, err := p.dial(ctx, t)
	if err != nil {
		if errno := LocalErrno(err); errno != "" {
			return nil, nil, cancelled(ctx, wrapf(ReasonLocal, err, "no local resources to open a socket to %s (%s)", t.Address(), errno))
		}
		return nil, nil, cancelled(ctx, wrapf(ReasonNone, err, "TCP dial %s failed", t.Address()))
	}
	conn = raw
	stop = context.AfterFunc(ctx, func() { raw.Close() })
	fail := func(err error) (net.Conn, func() bool, error) {
		stop()
		raw.Close()
		return nil, nil, cancelled(ctx, err)
	}
	addStep(res, "connect", start)
	res.RemoteAddr = raw.RemoteAddr().String()
	noteEvent(res, rec, "connect "+t.Address()+connectedTo(t, raw))

	if t.HAProxyV2 {
		start = time.Now()
		_ = conn.SetDeadline(time.Now().Add(orDefault(t.ConnectTimeout)))
		header := proxyV2Local
		if t.HAProxyV2Proxy {
			if header, err = proxyV2Header(conn.LocalAddr(), conn.RemoteAddr()); err != nil {
				return fail(err)
			}
		}
		if _, err := conn.Write(header); err != nil {
			return fail(wrapf(ReasonProxy, err, "HAProxy v2 header send to %s failed", t.Address()))
		}
		addStep(res, "proxy", start)
		noteEvent(res, rec, "PROXY v2 header sent")
	}

	if t.HAProxyV1 {
		start = time.Now()
		_ = conn.SetDeadline(time.Now().Add(orDefault(t.ConnectTimeout)))
		unknown := proxyproto.Header{Version: 1, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}
		if _, err := unknown.WriteTo(conn); err != nil {
			return fail(wrapf(ReasonProxy, err, "PROXY v1 header send to %s failed", t.Address()))
		}
		addStep(res, "proxy", start)
		noteEvent(res, rec, "PROXY v1 header sent")
	}

	if t.implicitTLS() {
		start = time.Now()
		tc := tls.Client(conn, t.handshakeConfig(res))
		_ = conn.SetDeadline(time.Now().Add(orDefault(t.TLSTimeout)))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(wrapf(ReasonTLS, err, "TLS handshake failed (host=%s port=%d protocol=%s tls_mode=%s skip_verify=%t)",
				t.Host, t.Port, t.Protocol, t.TLSMode, t.tlsConfig().InsecureSkipVerify))
		}
		addStep(res, "tls", start)
		noteEvent(res, rec, "TLS established"+noteTLS(res, tc.ConnectionState()))
		conn = tc
		if verdict && awaitsCertVerdict(tc, res) {
			start = time.Now()
			if err := awaitCertVerdict(tc, t, res, rec); err != nil {
				return fail(err)
			}
			addStep(res, "client_cert", start)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, stop, nil
}

func (p *Prober) dial(ctx context.Context, t *Target) (net.Conn, error) {
	timeout := orDefault(t.ConnectTimeout)
	if p.DialContext != nil {
		dctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return p.DialContext(dctx, "tcp", t.Address())
	}
	dialer := p.Dialer
	dialer.Timeout = timeout
	return dialer.DialContext(ctx, "tcp", t.Address())
}

// proxyV2Header builds a PROXY command header carrying the real TCP tuple:
// source is our end of the socket, destination the backend's.
func proxyV2Header(local, remote net.Addr) ([]byte, error) {
	src, ok1 := local.(*net.TCPAddr)
	dst, ok2 := remote.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return nil, failf(ReasonProxy, "PROXY v2 needs TCP addresses, have %s -> %s", local, remote)
	}
	family, srcIP, dstIP := byte(0x11), src.IP.To4(), dst.IP.To4() // TCP over IPv4
	if srcIP == nil || dstIP == nil {
		family, srcIP, dstIP = 0x21, src.IP.To16(), dst.IP.To16() // TCP over IPv6
	}
	if srcIP == nil || dstIP == nil {
		return nil, failf(ReasonProxy, "PROXY v2: unusable addresses %s -> %s", local, remote)
	}
	addrLen := 2*len(srcIP) + 4
	h := make([]byte, 0, 16+addrLen)
	h = append(h, proxyV2Signature...)
	h = append(h, 0x21, family) // version 2, command PROXY
	h = binary.BigEndian.AppendUint16(h, uint16(addrLen))
	h = append(h, srcIP...)
	h = append(h, dstIP...)
	h = binary.BigEndian.AppendUint16(h, uint16(src.Port))
	h = binary.BigEndian.AppendUint16(h, uint16(dst.Port))
	return h, nil
}

func addStep(res *Result, name string, start time.Time) {
	res.Steps = append(res.Steps, Step{Name: name, Duration: time.Since(start)})
}

func noteEvent(res *Result, rec bool, event string) {
	if rec {
		res.Transcript = append(res.Transcript, "-- "+event)
	}
}

// cancelled turns an error caused by ctx ending (we closed the conn) into a
// timeout, so callers see why the check stopped instead of "use of closed
// network connection".
func cancelled(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	var ce *checkError
	if errors.As(err, &ce) && ce.reason == ReasonConfig {
		return err
	}
	return wrapf(ReasonTimeout, ctx.Err(), "check cancelled")
}

// connectedTo names the address dialled when the target is a host name
// (" (127.0.0.1:143)"), so a transcript shows where a name led.
func connectedTo(t *Target, c net.Conn) string {
	addr := c.RemoteAddr().String()
	if addr == t.Address() {
		return ""
	}
	return " (" + addr + ")"
}

// noteTLS records the handshake's outcome in res and describes it for the
// transcript: version, cipher suite, the leaf certificate's subject, issuer
// and expiry.
func noteTLS(res *Result, cs tls.ConnectionState) string {
	res.TLSVersion = tls.VersionName(cs.Version)
	res.TLSCipher = tls.CipherSuiteName(cs.CipherSuite)
	desc := ": " + res.TLSVersion + ", " + res.TLSCipher
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		res.CertNotAfter = leaf.NotAfter
		res.CertSubject = leaf.Subject.String()
		res.CertIssuer = leaf.Issuer.String()
		desc += fmt.Sprintf("; certificate %q issued by %q, valid until %s",
			res.CertSubject, res.CertIssuer, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return desc
}

package probe

import (
	"crypto/tls"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/backline/backline/internal/config"
)

// handshakeConfig is the target's TLS configuration for one handshake of
// one check. The client certificate stays where NewTarget (or the gateway)
// put it, in Certificates; the per-handshake copy adds a callback that
// notes in res that the server asked for one (so a failure can say why,
// and the connect phase knows to wait for the verdict), and presents the
// certificate even when the server's list of CAs does not name its issuer:
// the server's refusal then says more than a handshake without one. The
// copy costs far less than the handshake it serves.
func (t *Target) handshakeConfig(res *Result) *tls.Config {
	cfg := t.tlsConfig().Clone()
	certs, own := cfg.Certificates, cfg.GetClientCertificate
	cfg.GetClientCertificate = func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		res.clientCertAsked = true
		switch {
		case own != nil: // a Target built by hand with its own choice
			return own(info)
		case len(certs) == 0:
			return &tls.Certificate{}, nil // none configured: send none
		default:
			return &certs[0], nil
		}
	}
	return cfg
}

// awaitsCertVerdict tells whether the server's verdict on the client
// certificate is still to come after a finished handshake. With TLS 1.2
// the server judges the certificate inside the handshake, so a finished
// handshake is its verdict. With TLS 1.3 the client's side of the
// handshake ends before the server has read the client's certificate: a
// refusal (an alert) comes after it. A server that did not ask for a
// certificate has nothing to judge.
func awaitsCertVerdict(tc *tls.Conn, res *Result) bool {
	return res.clientCertAsked && tc.ConnectionState().Version == tls.VersionTLS13
}

// awaitCertVerdict runs after an implicit-TLS handshake of a connect-only
// check when awaitsCertVerdict, and reads until the server speaks:
//
//   - mail protocols: the first byte of the greeting, which a server sends
//     only after it accepted the handshake; silence until the TLS deadline
//     is a timeout, as a missing greeting would be in a deep check;
//   - HTTP has no greeting: this sends close_notify, which the server reads
//     only after our certificate, and waits for its answer: an alert is a
//     refusal, the connection ending (or any data) an acceptance. A server
//     silent until the TLS deadline did not refuse either and counts as
//     accepting; such a check takes the whole tls_timeout.
//
// The read shares the deadline of the handshake (tls_timeout), so the
// connect phase keeps its budget of connect_timeout + tls_timeout.
func awaitCertVerdict(tc *tls.Conn, t *Target, res *Result, rec bool) error {
	http := t.Protocol == config.ProtoHTTP
	if http {
		if err := tc.CloseWrite(); err != nil {
			return wrapf(ReasonTLS, err, "sending close_notify to %s after the TLS handshake", t.Address())
		}
	}
	var b [1]byte
	n, err := tc.Read(b[:])
	switch {
	case n > 0 || err == nil:
		noteEvent(res, rec, "server accepted the client certificate (it began to answer)")
		return nil
	case remoteTLSAlert(err) != "":
		// clientCertFailure says whose certificate, if the alert is about one.
		return wrapf(ReasonTLS, err, "server %s ended the TLS session after the handshake", t.Address())
	case http && errors.Is(err, io.EOF):
		noteEvent(res, rec, "server accepted the client certificate (it closed after our close_notify)")
		return nil
	case http && errors.Is(err, os.ErrDeadlineExceeded):
		noteEvent(res, rec, "server neither refused the client certificate nor answered close_notify within tls_timeout; counted as accepted")
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return wrapf(ReasonTimeout, err, "no greeting from %s within tls_timeout after the TLS handshake: cannot tell whether it accepted the client certificate", t.Address())
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		// A server that closes right after judging our certificate, before
		// reading what we sent after it (close_notify), resets the
		// connection: not an acceptance either.
		what := "a greeting"
		if http {
			what = "an answer to close_notify"
		}
		return wrapf(ReasonTLS, err, "server %s ended the connection after the TLS handshake without %s or an alert (did it refuse the client certificate?)", t.Address(), what)
	default:
		return wrapf(ReasonTLS, err, "reading from %s after the TLS handshake", t.Address())
	}
}

// clientCertFailure rewords a failure caused by the server refusing the
// client certificate (or its absence), so the status says what to fix;
// refused tells whether it was such a failure. A server cannot complain about its own
// certificate, so a received alert about a certificate is about ours. With
// TLS 1.3 the server judges the client certificate after the client's
// handshake is done: the alert then comes with the first read (the
// connect phase's wait for the verdict, or the greeting or HTTP response of
// a deep check), not with the handshake.
func clientCertFailure(t *Target, res *Result, err error) (refused bool, _ error) {
	alert := remoteTLSAlert(err)
	// An alert about a certificate tells on its own. After the server
	// asked for one (not noted for a Target built by hand), so do the
	// alerts TLS 1.2 servers often refuse a missing certificate with.
	aboutCert := strings.Contains(alert, "certificate") ||
		(res.clientCertAsked && (strings.HasSuffix(alert, "handshake failure") || strings.HasSuffix(alert, "access denied")))
	if t == nil || !aboutCert {
		return false, err
	}
	switch certs := t.tlsConfig().Certificates; {
	case len(certs) == 0:
		return true, wrapf(ReasonTLS, err, "server %s requires a client certificate and none is configured (tls_cert_file, tls_key_file)", t.Address())
	case certs[0].Leaf == nil:
		return true, wrapf(ReasonTLS, err, "server %s refused the client certificate", t.Address())
	default:
		leaf := certs[0].Leaf
		return true, wrapf(ReasonTLS, err, "server %s refused the client certificate %q (issuer %q)", t.Address(), leaf.Subject.String(), leaf.Issuer.String())
	}
}

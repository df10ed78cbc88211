package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
)

// checkError carries a classified failure. Its message must never contain a
// credential: build it from server lines and configuration only.
type checkError struct {
	reason Reason
	msg    string
	err    error
}

func (e *checkError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *checkError) Unwrap() error { return e.err }

func failf(reason Reason, format string, args ...any) error {
	return &checkError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

func wrapf(reason Reason, err error, format string, args ...any) error {
	return &checkError{reason: reason, msg: fmt.Sprintf(format, args...), err: err}
}

// protocolErr, authErr and configErr are the common classified failures.
func protocolErr(format string, args ...any) error { return failf(ReasonProtocol, format, args...) }
func authErr(format string, args ...any) error     { return failf(ReasonAuth, format, args...) }
func configErr(format string, args ...any) error   { return failf(ReasonConfig, format, args...) }

// Classify maps any error of a check to a Reason. Timeouts win over
// everything else: a deadline hit while reading a greeting is a timeout,
// not a protocol error.
func Classify(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return ReasonTimeout
	}
	var ce *checkError
	if errors.As(err, &ce) && ce.reason != ReasonNone {
		return ce.reason
	}
	if LocalErrno(err) != "" {
		return ReasonLocal
	}
	var mechErr *MechanismUnavailableError
	if errors.As(err, &mechErr) {
		return ReasonConfig
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ReasonDNS
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return ReasonRefused
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	var alertErr tls.AlertError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) ||
		errors.As(err, &recErr) || errors.As(err, &alertErr) || remoteTLSAlert(err) != "" {
		return ReasonTLS
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return ReasonConnect
	}
	return ReasonProtocol
}

// localErrnos are the dial errors that blame this host, with their names
// for metrics and logs. HAProxy counts the same ones as resource errors,
// not server errors: out of descriptors (process, system), of socket
// buffers or kernel memory, and of ephemeral ports (EADDRNOTAVAIL).
var localErrnos = []struct {
	errno syscall.Errno
	name  string
}{
	{syscall.EMFILE, "EMFILE"},
	{syscall.ENFILE, "ENFILE"},
	{syscall.ENOBUFS, "ENOBUFS"},
	{syscall.ENOMEM, "ENOMEM"},
	{syscall.EADDRNOTAVAIL, "EADDRNOTAVAIL"},
}

// LocalErrno names the local resource a dial ran out of ("EMFILE", ...), or
// returns "" when err is not such a failure. A check failing this way says
// nothing about the backend (issue 9 item 6). The Go resolver keeps only the
// text of its own socket's error, so a DNSError is matched by that text.
func LocalErrno(err error) string {
	if err == nil {
		return ""
	}
	for _, l := range localErrnos {
		if errors.Is(err, l.errno) {
			return l.name
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		for _, l := range localErrnos {
			if strings.HasSuffix(dnsErr.Err, ": "+l.errno.Error()) {
				return l.name
			}
		}
	}
	return ""
}

// remoteTLSAlert returns the text of a TLS alert the server sent ("tls:
// certificate required"), or "" when err holds none. crypto/tls reports a
// received alert as a net.OpError "remote error" of an unexported type, so
// the text is all there is to go on.
func remoteTLSAlert(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" && opErr.Err != nil {
		return opErr.Err.Error()
	}
	return ""
}

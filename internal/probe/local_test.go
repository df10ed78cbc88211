package probe

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// Issue 9 item 6: a probe that cannot open a socket because this host ran
// out of something (file descriptors, buffers, memory, ephemeral ports) has
// learnt nothing about the backend. It is classified apart so that health
// keeps the backend's state.

// failingDialer returns the error net.Dialer returns when socket(2) fails.
func failingDialer(errno syscall.Errno) func(context.Context, string, string) (net.Conn, error) {
	return func(_ context.Context, network, address string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("socket", errno)}
	}
}

func TestLocalResourceErrorsAreNotTheBackends(t *testing.T) {
	tg := &Target{Name: "t", Protocol: "imap", Host: "127.0.0.1", Port: 1, DeepCheck: true}
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.EADDRNOTAVAIL} {
		for _, phase := range []Phase{PhaseConnect, PhaseDeep} {
			p := &Prober{DialContext: failingDialer(errno)}
			res := p.Check(context.Background(), tg, phase, Options{})
			if res.OK || res.Reason != ReasonLocal {
				t.Errorf("%s/%s: ok=%v reason=%q err=%v, want reason %q", errno, phase, res.OK, res.Reason, res.Err, ReasonLocal)
			}
			if !errors.Is(res.Err, errno) {
				t.Errorf("%s: error %v does not wrap the errno", errno, res.Err)
			}
			if got, want := LocalErrno(res.Err), errnoName(errno); got != want {
				t.Errorf("LocalErrno = %q, want %q", got, want)
			}
		}
	}
	// The backend's own refusal stays the backend's.
	p := &Prober{DialContext: failingDialer(syscall.ECONNREFUSED)}
	if res := p.Check(context.Background(), tg, PhaseConnect, Options{}); res.Reason != ReasonRefused || LocalErrno(res.Err) != "" {
		t.Errorf("refused: reason %q, errno %q", res.Reason, LocalErrno(res.Err))
	}
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EMFILE:
		return "EMFILE"
	case syscall.ENFILE:
		return "ENFILE"
	case syscall.ENOBUFS:
		return "ENOBUFS"
	case syscall.ENOMEM:
		return "ENOMEM"
	case syscall.EADDRNOTAVAIL:
		return "EADDRNOTAVAIL"
	}
	return ""
}

// The Go resolver does not wrap the error of its own socket: only the text
// says that resolving failed for lack of descriptors.
func TestLocalErrnoInsideADNSError(t *testing.T) {
	err := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{
		Err: "dial udp 127.0.0.53:53: socket: " + syscall.EMFILE.Error(), Name: "imap.example.org", Server: "127.0.0.53:53"}}
	if got := LocalErrno(err); got != "EMFILE" {
		t.Errorf("LocalErrno = %q, want EMFILE", got)
	}
	notFound := &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}
	if got := LocalErrno(notFound); got != "" {
		t.Errorf("LocalErrno(no such host) = %q", got)
	}
}

// Package integration holds tests against the real servers of the test
// fixture (scripts/fixture/start.sh). Run them with scripts/test.
package integration

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/backline/backline/internal/testfixture"
)

// TestFixtureUp proves the fixture is running: every listed port accepts a
// TCP connection, and the TLS files match the servers.
func TestFixtureUp(t *testing.T) {
	f := testfixture.Load(t)
	names := f.PortNames()
	if len(names) < 30 {
		t.Fatalf("fixture lists only %d ports: %v", len(names), names)
	}
	for _, name := range names {
		addr := f.Addr(name)
		t.Run(name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", addr, 3*time.Second)
			if err != nil {
				t.Fatalf("%s (%s): %v", name, addr, err)
			}
			c.Close()
		})
	}

	t.Run("TLS trusted by the fixture CA", func(t *testing.T) {
		d := &net.Dialer{Timeout: 3 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", f.Addr("NGINX_HTTPS"), f.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	t.Run("TLS unknown to the other CA", func(t *testing.T) {
		d := &net.Dialer{Timeout: 3 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", f.Addr("DOVECOT_A_IMAPS"), f.OtherTLSConfig())
		if err == nil {
			c.Close()
			t.Fatal("handshake verified against the unrelated CA")
		}
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("want x509.UnknownAuthorityError, got %T: %v", err, err)
		}
	})
}

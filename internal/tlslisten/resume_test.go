package tlslisten

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// A client certificate that a reload stops trusting (client_ca_file now
// names another CA) must not get back in by resuming a session made
// before the reload: crypto/tls does not check a resumed session's chain
// against the current ClientCAs, and the session ticket keys outlive
// SetConfig.
func TestResumedSessionMeetsTheCurrentClientCAs(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			pki := testutil.NewPKI(t)
			server := pki.Server(t, 1)
			withCA := func(ca *testutil.PKI) *tls.Config {
				cfg := serverConfig(server, "http/1.1")
				cfg.ClientCAs = ca.ClientConfig().RootCAs
				cfg.ClientAuth = tls.RequireAndVerifyClientCert
				return cfg
			}
			s := serve(t, withCA(pki), Options{}, pki)

			cc := pki.ClientConfig("http/1.1")
			cc.MinVersion, cc.MaxVersion = v, v
			cc.Certificates = []tls.Certificate{pki.Issue(t, "dovecot", 8, time.Now().Add(time.Hour), true).Cert}
			cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			exchange := func() (resumed bool, err error) {
				c, err := tls.Dial("tcp", s.addr, cc)
				if err != nil {
					return false, err
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					return false, err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				return c.ConnectionState().DidResume, nil
			}
			if _, err := exchange(); err != nil {
				t.Fatal(err)
			}
			// Resumption works while the CA is trusted (else the check
			// below proves nothing).
			if resumed, err := exchange(); err != nil || !resumed {
				t.Fatalf("second exchange: resumed %v, %v", resumed, err)
			}
			s.ln.SetConfig(withCA(testutil.NewPKI(t)))
			if resumed, err := exchange(); err == nil {
				t.Fatalf("a certificate of a CA no longer trusted was served (resumed %v)", resumed)
			}
		})
	}
}

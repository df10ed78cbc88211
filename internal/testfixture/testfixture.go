// Package testfixture gives tests the addresses, credentials and TLS files of
// the real servers (Dovecot A–D, HAProxy, nginx, Redis, aiosmtpd, MariaDB) that
// scripts/fixture/start.sh runs on 127.0.0.1.
//
// start.sh writes KEY=value lines to $BACKLINE_FIXTURE_DIR/fixture.env;
// Load reads the file named by $BACKLINE_FIXTURE_ENV (default
// /tmp/backline-fixture/fixture.env). scripts/test starts the fixture and sets
// the variable. A missing fixture fails the test: it never skips silently.
// Only the short suite (BACKLINE_SHORT=1 or go test -short) skips.
//
// Port names are the fixture.env keys, e.g. DOVECOT_A_IMAP, DOVECOT_C_SIEVE,
// HAPROXY_SEND_PROXY_IMAP, NGINX_HTTPS, REDIS, AIOSMTPD_LMTP; see PortNames
// and scripts/fixture/start.sh for the full list. Redis also runs as a
// Sentinel set (REDIS_SENTINEL, its data nodes REDIS_SENTINEL_NODE_A/B, the
// monitored name in Get("REDIS_SENTINEL_MASTER")) and as a Cluster of three
// primaries (REDIS_CLUSTER_1..3; Get("REDIS_CLUSTER_ADDRESSES") lists them).
// MariaDB (MARIADB, with Get("MARIADB_USER"), Get("MARIADB_PASSWORD"),
// Get("MARIADB_DATABASE") and Get("MARIADB_SOCKET")) holds a users table
// for the Lua db module's tests.
//
// A Fixture reports problems (an unknown port name, say) on the testing.TB it
// was loaded with, so call Load in the test or subtest that uses it; it only
// reads a small file.
package testfixture

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const (
	// EnvVar names the fixture.env file to read.
	EnvVar = "BACKLINE_FIXTURE_ENV"
	// ShortVar set to 1 selects the short suite: Load skips.
	ShortVar = "BACKLINE_SHORT"
	// DefaultEnvFile is where start.sh writes fixture.env by default.
	DefaultEnvFile = "/tmp/backline-fixture/fixture.env"
	// ShortSkipMessage is the reason Load gives when it skips.
	ShortSkipMessage = "short suite: real servers not started (BACKLINE_SHORT=1)"
)

// Fixture describes one running fixture.
type Fixture struct {
	Dir            string // BACKLINE_FIXTURE_DIR: state, logs, certificates
	EnvFile        string // the fixture.env it was read from
	Host           string // 127.0.0.1
	ServerName     string // name in the server certificate: localhost
	CAFile         string // CA that signed CertFile and ClientCertFile
	OtherCAFile    string // unrelated CA, for "unknown authority" cases
	CertFile       string // server certificate (localhost, mail.backline.test, 127.0.0.1)
	KeyFile        string
	ClientCertFile string // client certificate signed by CAFile
	ClientKeyFile  string
	User           string // healthcheck-user, valid on every server
	Password       string
	AliceUser      string // a second mailbox user on Dovecot A–D
	AlicePassword  string
	HTTPRealm      string // nginx Basic auth realm

	tb   testing.TB
	vars map[string]string
}

// Load returns the running fixture, failing t with instructions when it is
// not there. It skips t when BACKLINE_SHORT=1 or -short is set.
func Load(t testing.TB) *Fixture {
	t.Helper()
	return load(t, os.Getenv(ShortVar) == "1" || testing.Short())
}

func load(t testing.TB, short bool) *Fixture {
	t.Helper()
	if short {
		t.Skip(ShortSkipMessage)
	}
	path := os.Getenv(EnvVar)
	if path == "" {
		path = DefaultEnvFile
	}
	vars, err := parseFile(path)
	if err != nil {
		t.Fatalf("testfixture: real servers are not running (%v).\n"+
			"Run the whole suite with scripts/test, or start them by hand (as root):\n"+
			"  scripts/install-deps.sh && scripts/fixture/start.sh\n"+
			"  export %s=/tmp/backline-fixture/fixture.env\n"+
			"For the short suite without real servers set %s=1 or use go test -short.",
			err, EnvVar, ShortVar)
	}
	f := &Fixture{EnvFile: path, tb: t, vars: vars}
	for _, fld := range []struct {
		dst *string
		key string
	}{
		{&f.Dir, "BACKLINE_FIXTURE_DIR"}, {&f.Host, "HOST"}, {&f.ServerName, "TLS_SERVER_NAME"},
		{&f.CAFile, "CA_FILE"}, {&f.OtherCAFile, "OTHER_CA_FILE"},
		{&f.CertFile, "CERT_FILE"}, {&f.KeyFile, "KEY_FILE"},
		{&f.ClientCertFile, "CLIENT_CERT_FILE"}, {&f.ClientKeyFile, "CLIENT_KEY_FILE"},
		{&f.User, "TEST_USER"}, {&f.Password, "TEST_PASSWORD"},
		{&f.AliceUser, "ALICE_USER"}, {&f.AlicePassword, "ALICE_PASSWORD"},
		{&f.HTTPRealm, "HTTP_REALM"},
	} {
		v, ok := vars[fld.key]
		if !ok {
			t.Fatalf("testfixture: %s has no %s; restart the fixture with scripts/fixture/start.sh", path, fld.key)
		}
		*fld.dst = v
	}
	return f
}

// Get returns the raw value of a fixture.env key, failing the test if absent.
func (f *Fixture) Get(key string) string {
	f.tb.Helper()
	v, ok := f.vars[key]
	if !ok {
		f.tb.Fatalf("testfixture: no %s in %s", key, f.EnvFile)
	}
	return v
}

// Port returns the port of a server, by fixture.env key (DOVECOT_A_IMAPS;
// "dovecot-a-imaps" works too). An unknown name fails the test.
func (f *Fixture) Port(name string) int {
	f.tb.Helper()
	key := normalize(name)
	v, ok := f.vars[key]
	if !ok || !f.isPortKey(key) {
		f.tb.Fatalf("testfixture: unknown port %q; known: %s", name, strings.Join(f.PortNames(), " "))
	}
	p, err := strconv.Atoi(v)
	if err != nil || p <= 0 || p > 65535 {
		f.tb.Fatalf("testfixture: %s=%q in %s is not a port", key, v, f.EnvFile)
	}
	return p
}

// Addr returns "127.0.0.1:port" for Port(name).
func (f *Fixture) Addr(name string) string {
	f.tb.Helper()
	return net.JoinHostPort(f.Host, strconv.Itoa(f.Port(name)))
}

// PortNames lists every port key, in the order start.sh wrote them.
func (f *Fixture) PortNames() []string {
	return strings.Fields(f.vars["PORT_KEYS"])
}

func (f *Fixture) isPortKey(key string) bool {
	for _, k := range f.PortNames() {
		if k == key {
			return true
		}
	}
	return false
}

// LogFile returns the log of a server: DOVECOT_A .. DOVECOT_D, HAPROXY,
// NGINX (error log), NGINX_ACCESS, REDIS, AIOSMTPD ("dovecot-a" works too).
// An unknown name fails the test.
func (f *Fixture) LogFile(name string) string {
	f.tb.Helper()
	key := strings.TrimSuffix(normalize(name), "_LOG") + "_LOG"
	v, ok := f.vars[key]
	if !ok {
		var known []string
		for k := range f.vars {
			if strings.HasSuffix(k, "_LOG") {
				known = append(known, strings.TrimSuffix(k, "_LOG"))
			}
		}
		sort.Strings(known)
		f.tb.Fatalf("testfixture: unknown log %q; known: %s", name, strings.Join(known, " "))
	}
	return v
}

// ReadLog returns the current content of LogFile(name), for asserting that a
// server logged something (e.g. Dovecot C's "haproxy: Client timed out").
func (f *Fixture) ReadLog(name string) string {
	f.tb.Helper()
	b, err := os.ReadFile(f.LogFile(name))
	if err != nil {
		f.tb.Fatalf("testfixture: %v", err)
	}
	return string(b)
}

// TLSConfig returns a client config that trusts the fixture CA and expects
// the server certificate's name (localhost).
func (f *Fixture) TLSConfig() *tls.Config {
	f.tb.Helper()
	return &tls.Config{RootCAs: f.pool(f.CAFile), ServerName: f.ServerName, MinVersion: tls.VersionTLS12}
}

// OtherTLSConfig is TLSConfig trusting only the unrelated CA: verifying any
// fixture server with it fails with x509.UnknownAuthorityError.
func (f *Fixture) OtherTLSConfig() *tls.Config {
	f.tb.Helper()
	return &tls.Config{RootCAs: f.pool(f.OtherCAFile), ServerName: f.ServerName, MinVersion: tls.VersionTLS12}
}

func (f *Fixture) pool(file string) *x509.CertPool {
	f.tb.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		f.tb.Fatalf("testfixture: %v", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		f.tb.Fatalf("testfixture: no certificate in %s", file)
	}
	return p
}

// normalize maps "dovecot-a-imap" and "DOVECOT_A_IMAP" to the same key.
func normalize(name string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(name), "-", "_"))
}

// parseFile reads KEY=value lines; blank lines and # comments are ignored.
func parseFile(path string) (map[string]string, error) {
	file, err := os.Open(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	defer file.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(file)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: not KEY=value: %q", path, n, line)
		}
		vars[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return vars, nil
}

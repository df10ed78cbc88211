// Package demo is `backline demo`: fake IMAP, POP3, submission and HTTPS
// backends on 127.0.0.1 (one of them broken) and a configuration, written
// as YAML and loaded through config.Parse, that probes them. Nothing is
// hand-configured and nothing leaves the machine.
package demo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"text/template"

	"github.com/backline/backline/internal/config"
)

// DefaultAddress is where the demo serves its status page.
const DefaultAddress = "127.0.0.1:9080"

// Backend is one fake server, for printing.
type Backend struct {
	Name, Description, Address string
	Port                       int
	Broken                     bool
}

// Env is a running demo environment. Close it to stop the fakes and remove
// the temporary CA and password files.
type Env struct {
	// Config is the parsed demo configuration; YAML is its source.
	Config   *config.Config
	YAML     string
	Backends []Backend
	// CAFile signs every fake's certificate; PasswordFile holds DemoPassword.
	CAFile, PasswordFile string
	// Dir holds the configuration's files.
	Dir string

	dir    string
	closer []func()
	// keepDir: the files were written where the caller asked
	// (StartIn); Close leaves them.
	keepDir bool
	// switches break and repair each fake (control.go).
	switches map[string]breakable
}

// Start starts the fake backends and builds the configuration that serves
// the status API on address; its files live in a temporary directory that
// Close removes.
func Start(address string) (*Env, error) { return StartIn(address, "") }

// StartIn is Start with the configuration's files (CA, password, users,
// filter) written to dir, which Close leaves in place: `demo
// --print-config` writes a configuration that `check` still accepts after
// the demo ended. An empty dir means a temporary one.
func StartIn(address, dir string) (*Env, error) {
	env := &Env{switches: map[string]breakable{}}
	ok := false
	defer func() {
		if !ok {
			env.Close()
		}
	}()
	var err error
	pki, err := newPKI()
	if err != nil {
		return nil, fmt.Errorf("demo: generating certificates: %w", err)
	}
	if dir != "" {
		if dir, err = filepath.Abs(dir); err == nil {
			err = os.MkdirAll(dir, 0o700)
		}
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		env.dir, env.keepDir = dir, true
	} else if env.dir, err = os.MkdirTemp("", "backline-demo-"); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	env.Dir = env.dir
	caFile := filepath.Join(env.dir, "ca.pem")
	passwordFile := filepath.Join(env.dir, "test-password")
	env.CAFile, env.PasswordFile = caFile, passwordFile
	if err := os.WriteFile(caFile, pki.caPEM, 0o600); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(passwordFile, []byte(DemoPassword+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	usersFile := filepath.Join(env.dir, "users")
	filterFile := filepath.Join(env.dir, "filter.lua")
	if err := os.WriteFile(usersFile, []byte(demoUsers), 0o600); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(filterFile, []byte(demoFilter), 0o600); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}

	tlsCfg := pki.serverConfig()
	ports := map[string]int{}
	for _, f := range []struct {
		name, desc string
		handle     func(*lineConn)
		broken     bool
	}{
		{"demo-imaps", "IMAP, implicit TLS, AUTHENTICATE PLAIN with SASL-IR", implicitTLS(tlsCfg, serveIMAP), false},
		{"demo-pop3", "POP3, STLS, then USER/PASS or AUTH PLAIN", servePOP3(tlsCfg), false},
		{"demo-submission", "SMTP submission, STARTTLS, AUTH PLAIN/LOGIN", serveSMTP(tlsCfg), false},
		{"demo-imap-hung", "IMAP that accepts and never greets (broken; repair it on /demo)", serveIMAP, true},
	} {
		srv, err := startFake(f.handle)
		if err != nil {
			return nil, fmt.Errorf("demo: %s: %w", f.name, err)
		}
		if f.broken {
			// Broken means silent: the probe's greeting timeout shows.
			srv.whenBroken = serveSilent
			srv.setBroken(true)
		}
		env.closer = append(env.closer, srv.Close)
		env.switches[f.name] = srv
		ports[f.name] = srv.Addr().Port
		env.Backends = append(env.Backends, Backend{f.name, f.desc, srv.Addr().String(), srv.Addr().Port, f.broken})
	}
	// nginx's mail proxy speaks plain text to its upstream, so the IMAPS
	// backend also listens in plain text: its proxy_port, the port the nginx
	// endpoint hands out (docs/auth.md, "Implicit TLS and proxy_port").
	plainIMAP, err := startFake(serveIMAP)
	if err != nil {
		return nil, fmt.Errorf("demo: demo-imaps plain port: %w", err)
	}
	env.closer = append(env.closer, plainIMAP.Close)
	ports["demo-imaps-proxy"] = plainIMAP.Addr().Port
	web, err := startHTTPS(tlsCfg)
	if err != nil {
		return nil, fmt.Errorf("demo: demo-https: %w", err)
	}
	env.closer = append(env.closer, web.Close)
	env.switches["demo-https"] = web
	ports["demo-https"] = web.Addr().Port
	env.Backends = append(env.Backends, Backend{"demo-https", "HTTPS with Basic auth on /healthz", web.Addr().String(), web.Addr().Port, false})

	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, map[string]any{
		"Address": address, "CAFile": caFile, "UsersFile": usersFile, "FilterFile": filterFile, "PasswordFile": passwordFile, "User": DemoUser, "Port": ports,
	}); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	env.YAML = buf.String()
	if env.Config, err = config.Parse(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("demo: the embedded configuration does not load:\n%w", err)
	}
	ok = true
	return env, nil
}

// Close stops every fake backend and removes the temporary files.
func (e *Env) Close() {
	for i := len(e.closer) - 1; i >= 0; i-- {
		e.closer[i]()
	}
	e.closer = nil
	if e.dir != "" && !e.keepDir {
		_ = os.RemoveAll(e.dir)
	}
	e.dir = ""
}

// configTemplate is the embedded default. Values are inserted with
// printf "%q", which yields valid YAML double-quoted strings for paths.
var configTemplate = template.Must(template.New("demo").Parse(`# backline demo configuration (generated)
server:
  address: {{printf "%q" .Address}}
  log_level: info
lua:
  filters:
    - name: demo-select
      script_path: {{printf "%q" .FilterFile}}
auth:
  passdb:
    - type: passwd_file
      path: {{printf "%q" .UsersFile}}
  nginx:
    default_policy: user_hash
  services:
    enabled:
      - backend_health_checks
    backend_health_checks:
      connect_interval: 2s
      connect_timeout: 1s
      tls_timeout: 1s
      deep_timeout: 2s
      failure_threshold: 1
      recovery_threshold: 1
      targets:
        - name: demo-imaps
          protocol: imap
          host: 127.0.0.1
          port: {{index .Port "demo-imaps"}}
          proxy_port: {{index .Port "demo-imaps-proxy"}}
          tls: true
          tls_ca_file: {{printf "%q" .CAFile}}
          deep_check: true
          test_username: {{.User}}
          test_password_file: {{printf "%q" .PasswordFile}}
        - name: demo-pop3
          protocol: pop3
          host: 127.0.0.1
          port: {{index .Port "demo-pop3"}}
          tls_mode: starttls
          tls_ca_file: {{printf "%q" .CAFile}}
          deep_check: true
          test_username: {{.User}}
          test_password_file: {{printf "%q" .PasswordFile}}
        - name: demo-submission
          protocol: smtp
          host: 127.0.0.1
          port: {{index .Port "demo-submission"}}
          tls_mode: starttls
          tls_ca_file: {{printf "%q" .CAFile}}
          deep_check: true
          test_username: {{.User}}
          test_password_file: {{printf "%q" .PasswordFile}}
        - name: demo-https
          protocol: http
          host: 127.0.0.1
          port: {{index .Port "demo-https"}}
          request_uri: /healthz
          tls: true
          tls_ca_file: {{printf "%q" .CAFile}}
          deep_check: true
          test_username: {{.User}}
          test_password_file: {{printf "%q" .PasswordFile}}
        - name: demo-imap-hung
          protocol: imap
          host: 127.0.0.1
          port: {{index .Port "demo-imap-hung"}}
          deep_check: true
          deep_timeout: 1s
`))

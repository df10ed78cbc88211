package lua

import (
	"crypto/tls"
	"errors"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/probe"
)

// checkBackendConnection runs a real connect-phase probe (TCP, PROXY v2
// preface, implicit TLS) with the health-check code. It accepts every
// documented form (contract §2.4), told apart by argument shape:
//
//	(protocol, host, port, tls, skip_verify, haproxy_v2) -> ok, err   seed 000
//	(ip, port, haproxy_v2, tls)                          -> err|nil   seed 001/002
//	({protocol=, host= | ip_address=, port=, ...})       -> err|nil   v1.4 table form
//
// The table form's deep_check and credentials are ignored: a filter runs per
// login, and a full login per login would double the backend's load.
func checkBackendConnection(r *scriptRun, L *glua.LState) int {
	const usage = "check_backend_connection expects (protocol, host, port, tls, skip_verify, haproxy_v2), (ip, port, haproxy_v2, tls) or a table"
	var spec checkSpec
	switch {
	case L.GetTop() == 1 && L.Get(1).Type() == glua.LTTable:
		t := L.CheckTable(1)
		spec = checkSpec{
			protocol:   optString(t, "protocol"),
			host:       optString(t, "host"),
			tls:        glua.LVAsBool(t.RawGetString("tls")),
			skipVerify: glua.LVAsBool(t.RawGetString("tls_skip_verify")),
			haproxy:    glua.LVAsBool(t.RawGetString("haproxy_v2")),
		}
		if spec.host == "" {
			spec.host = optString(t, "ip_address")
		}
		port, ok := luaInt(t.RawGetString("port"))
		if !ok {
			L.RaiseError("check_backend_connection: table field port must be a whole number")
		}
		spec.port = port
		L.Push(errValue(r.check(spec)))
		return 1
	case L.GetTop() == 6:
		spec = checkSpec{
			protocol:   L.CheckString(1),
			host:       L.CheckString(2),
			port:       checkPort(L, 3),
			tls:        L.ToBool(4),
			skipVerify: L.ToBool(5),
			haproxy:    L.ToBool(6),
		}
		if err := r.check(spec); err != nil {
			L.Push(glua.LFalse)
			L.Push(errValue(err))
			return 2
		}
		L.Push(glua.LTrue)
		L.Push(glua.LNil)
		return 2
	case L.GetTop() == 4:
		spec = checkSpec{
			host:    L.CheckString(1),
			port:    checkPort(L, 2),
			haproxy: L.ToBool(3),
			tls:     L.ToBool(4),
		}
		L.Push(errValue(r.check(spec)))
		return 1
	}
	L.RaiseError("%s, got %d arguments", usage, L.GetTop())
	return 0
}

type checkSpec struct {
	protocol   string
	host       string
	port       int
	tls        bool
	skipVerify bool
	haproxy    bool
}

func (r *scriptRun) check(s checkSpec) error {
	checker := r.engine.opts.Checker
	if checker == nil {
		return errors.New("no backend checker is configured")
	}
	if s.host == "" || s.port < 1 || s.port > 65535 {
		return errors.New("check_backend_connection needs a host and a port between 1 and 65535")
	}
	if s.protocol == "" {
		// The connect phase does not speak the protocol; the legacy forms
		// never named one.
		s.protocol = "imap"
	}
	mode := probe.TLSPlain
	if s.tls {
		mode = probe.TLSImplicit
	}
	t := &probe.Target{
		Name:     "lua:" + r.script.name,
		Protocol: s.protocol,
		Host:     s.host,
		Port:     s.port,
		TLSMode:  mode,
		TLSConfig: &tls.Config{
			ServerName:         s.host,
			InsecureSkipVerify: s.skipVerify, //nolint:gosec // the script asked for it
			MinVersion:         tls.VersionTLS12,
		},
		HAProxyV2:      s.haproxy,
		ConnectTimeout: r.engine.connectTimeout,
		TLSTimeout:     r.engine.tlsTimeout,
	}
	res := checker.Check(r.ctx, t, probe.PhaseConnect, probe.Options{})
	if res.OK {
		return nil
	}
	if res.Err != nil {
		return errors.New(r.redact(res.Err.Error()))
	}
	return errors.New("connection check failed: " + string(res.Reason))
}

func errValue(err error) glua.LValue {
	if err == nil {
		return glua.LNil
	}
	return glua.LString(err.Error())
}

func checkPort(L *glua.LState, n int) int {
	port, ok := luaInt(L.Get(n))
	if !ok {
		L.ArgError(n, "port must be a whole number")
	}
	return port
}

func optString(t *glua.LTable, key string) string {
	if s, ok := t.RawGetString(key).(glua.LString); ok {
		return string(s)
	}
	return ""
}

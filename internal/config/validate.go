package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// healthChecksPath is the key path of the health-check service.
const healthChecksPath = "auth.services.backend_health_checks"

// validator checks and normalises the server and health-check sections in
// place. written holds the key paths that have a value in the file.
type validator struct {
	c       *Config
	written map[string]bool
	errs    Errors
	files   fileCache
	// clientCerts holds each target client certificate pair loaded.
	clientCerts map[[2]string]clientCertResult
	// noSecrets (check --no-secrets): missing secret and CA files are
	// warnings (nosecrets.go).
	noSecrets bool
}

func (v *validator) add(path, format string, args ...any) {
	v.errs.Add(path, v.c.Lines.Line(path), format, args...)
}

func (v *validator) validate() {
	v.validateServer()
	v.validateServices()
	v.validateHealthChecks()
}

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
)

func (v *validator) validateServer() {
	s := &v.c.Server
	if msg := checkListenAddress(s.Address); msg != "" {
		v.add("server.address", "%s", msg)
	}
	s.LogLevel = normalizeWord(s.LogLevel)
	if !oneOf(s.LogLevel, logLevels) {
		v.add("server.log_level", "must be one of %s, got %q", strings.Join(logLevels, ", "), s.LogLevel)
	}
	s.LogFormat = normalizeWord(s.LogFormat)
	if !oneOf(s.LogFormat, logFormats) {
		v.add("server.log_format", "must be one of %s, got %q", strings.Join(logFormats, ", "), s.LogFormat)
	}
	v.validateAPIAuth()
	v.validateListenerLimits()
	v.validateAdminKeys()
	v.validatePprof()
	v.validateLogFiles()
	v.validateListenerTLS()
}

// validatePprof refuses the profiler on a network address without
// api_auth: a CPU profile costs the daemon seconds of CPU per request, and
// goroutine dumps show what every connection is doing.
func (v *validator) validatePprof() {
	s := &v.c.Server
	if !s.Pprof {
		return
	}
	a := s.APIAuth
	if a.Username != "" || a.BearerToken != "" || a.PasswordFile != "" || a.BearerFile != "" {
		return
	}
	host, _, err := net.SplitHostPort(s.Address)
	if err != nil {
		return // server.address has its own error
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return
	}
	v.add("server.pprof", "needs server.api_auth when server.address (%s) is not a loopback address", s.Address)
}

func checkListenAddress(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("must be host:port (for example %s), got %q", DefaultServerAddress, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("port must be 1..65535, got %q", port)
	}
	if host != "" {
		if msg := CheckHost(host); msg != "" {
			return "host " + msg
		}
	}
	return ""
}

// validateAPIAuth loads the secret files; their content never appears in a
// message.
func (v *validator) validateAPIAuth() {
	const path = "server.api_auth"
	a := &v.c.Server.APIAuth
	v.loadSecret(&a.Password, a.PasswordFile, path+".password", path+".password_file")
	v.loadSecret(&a.BearerToken, a.BearerFile, path+".bearer_token", path+".bearer_token_file")
	switch {
	case a.Username != "" && a.Password == "" && a.PasswordFile == "" && !v.written[path+".password"]:
		v.add(path+".username", "needs password or password_file")
	case a.Username == "" && (a.Password != "" || a.PasswordFile != ""):
		v.add(path+".username", "is required when a password is set")
	}
	if strings.ContainsAny(a.Username, ":") {
		v.add(path+".username", "must not contain ':' (HTTP Basic separates user and password with it)")
	}
	v.refuseBlankSecrets(path, a)
}

// refuseBlankSecrets rejects an API password or token that is empty or only
// white space, whether written so, given as an empty ${VAR} or read from a
// file: an empty password lets `curl -u ops:` in, and an empty token would
// leave the API open while the file looks protected. Empty files are
// already refused by ReadSecretFile.
func (v *validator) refuseBlankSecrets(path string, a *APIAuth) {
	for _, s := range []struct {
		key, file, value string
	}{
		{"password", a.PasswordFile, a.Password},
		{"bearer_token", a.BearerFile, a.BearerToken},
	} {
		if strings.TrimSpace(s.value) != "" {
			continue
		}
		switch {
		case v.written[path+"."+s.key]:
			v.add(path+"."+s.key, "must not be empty or blank")
		case s.file != "" && s.value != "":
			v.add(path+"."+s.key+"_file", "file %q holds only white space", s.file)
		}
	}
	if a.PublicMetrics && a.Username == "" && a.Password == "" && a.BearerToken == "" &&
		a.PasswordFile == "" && a.BearerFile == "" {
		v.add(path+".public_metrics", "only means something with credentials (username and password, or bearer_token)")
	}
}

// loadSecret fills *value from file when file is set; giving both is an
// error, as is an unreadable or empty file.
func (v *validator) loadSecret(value *string, file, valuePath, filePath string) {
	if file == "" {
		return
	}
	if *value != "" {
		v.add(filePath, "set either %s or %s, not both", lastKey(valuePath), lastKey(filePath))
		return
	}
	secret, ok := v.secretFile(filePath, file)
	if !ok {
		return
	}
	*value = secret
}

func lastKey(path string) string { return path[strings.LastIndex(path, ".")+1:] }

func (v *validator) validateServices() {
	for i, name := range v.c.Auth.Services.Enabled {
		path := fmt.Sprintf("auth.services.enabled[%d]", i)
		name = strings.TrimSpace(name)
		v.c.Auth.Services.Enabled[i] = name
		switch name {
		case ServiceBackendHealthChecks:
		case "backend_server_monitoring":
			v.add(path, "backend_server_monitoring is the Nauthilus 1.x name; use backend_health_checks")
		default:
			v.add(path, "unknown service %q (known: %s)", name, ServiceBackendHealthChecks)
		}
	}
}

// ServiceEnabled reports whether name is listed under auth.services.enabled.
func (c *Config) ServiceEnabled(name string) bool {
	return oneOf(name, c.Auth.Services.Enabled)
}

// durationLimit is the allowed range (0, max] of one duration key.
type durationLimit struct {
	key   string
	value *time.Duration
	max   time.Duration
}

func (v *validator) validateHealthChecks() {
	h := &v.c.Auth.Services.BackendHealthChecks
	for _, l := range []durationLimit{
		{"connect_timeout", &h.ConnectTimeout, time.Minute},
		{"tls_timeout", &h.TLSTimeout, time.Minute},
		{"deep_timeout", &h.DeepTimeout, 5 * time.Minute},
		{"connect_interval", &h.ConnectInterval, 24 * time.Hour},
		{"deep_interval", &h.DeepInterval, 24 * time.Hour},
	} {
		// Defaults are valid and deep_interval inherits connect_interval's
		// error, so only written keys are checked.
		if path := join(healthChecksPath, l.key); v.written[path] {
			v.checkDuration(path, *l.value, l.max)
		}
	}
	for _, key := range []string{"connect_interval", "deep_interval"} {
		path := join(healthChecksPath, key)
		if d := h.interval(key); v.written[path] && d > 0 && d < MinProbeInterval {
			v.add(path, "must be at least %s, got %s (each probe is a connection, often a login, to the backend)", formatDuration(MinProbeInterval), d)
		}
	}
	v.checkThreshold(join(healthChecksPath, "failure_threshold"), h.FailureThreshold)
	v.checkThreshold(join(healthChecksPath, "recovery_threshold"), h.RecoveryThreshold)

	h.InitialState = normalizeWord(h.InitialState)
	if h.InitialState != InitialHealthy && h.InitialState != InitialUnhealthy {
		v.add(join(healthChecksPath, "initial_state"), "must be healthy or unhealthy, got %q", h.InitialState)
	}
	if h.ConnectInterval > 0 && h.Jitter >= h.ConnectInterval {
		v.add(join(healthChecksPath, "jitter"), "must be less than connect_interval (%s), got %s", h.ConnectInterval, h.Jitter)
	}
	if path := join(healthChecksPath, "fast_interval"); v.written[path] {
		checkFastInterval(v.add, path, h.FastInterval,
			boundInterval{"connect_interval", h.ConnectInterval}, boundInterval{"deep_interval", h.DeepInterval})
	}
	if path := join(healthChecksPath, "down_interval"); v.written[path] {
		checkDownInterval(v.add, path, h.DownInterval)
	}
	if path := join(healthChecksPath, "helo_name"); v.written[path] {
		if msg := CheckHeloName(h.HeloName); msg != "" {
			v.add(path, "%s", msg)
		}
	}
	v.validateServiceConnectCheck(h)
	v.validateTargets()
}

func (v *validator) checkDuration(path string, d, max time.Duration) {
	switch {
	case d <= 0:
		v.add(path, "must be greater than 0 (leave the key out for the default)")
	case d > max:
		v.add(path, "must be at most %s, got %s", formatDuration(max), d)
	}
}

func (v *validator) checkThreshold(path string, n int) {
	if n < 1 || n > 100 {
		v.add(path, "must be 1..100, got %d", n)
	}
}

// formatDuration prints limits the way an operator writes them ("1m", not "1m0s").
func formatDuration(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

func normalizeWord(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

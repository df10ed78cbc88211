package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/redact"
)

// ctlMaxResponse bounds what ctl reads of one answer: a confused or hostile
// endpoint must not make it read without end. A backend list entry is about
// 1 KiB of indented JSON, so the list gets room for some 16,000 backends.
const (
	ctlMaxResponse     = 1 << 20
	ctlMaxListResponse = 16 << 20
)

const ctlDefaultAPI = "http://127.0.0.1:9080"

// ctlNow is the clock for "30m left"; tests set it.
var ctlNow = time.Now

// ctlClient sends the API requests of one ctl run.
type ctlClient struct {
	base     string // scheme://host[:port][/prefix], no trailing slash
	user     string // Basic auth user; empty without Basic auth
	password string
	token    string // bearer token; empty without one
	http     *http.Client
	timeout  time.Duration
	now      func() time.Time
	stdout   io.Writer
	stderr   io.Writer
}

// errCtlReported means the problem was already printed in full.
var errCtlReported = errors.New("reported")

func newCtlClient(o *ctlOptions) (*ctlClient, error) {
	c := &ctlClient{
		base:    ctlDefaultAPI,
		timeout: o.timeout,
		now:     ctlNow,
		stdout:  o.stdout,
		stderr:  o.stderr,
		// No redirects: a 30x to another host would carry the credentials
		// there, and the API never redirects.
		http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	var cfg *config.Config
	if o.configFile != "" {
		var err error
		// Only the server section: the daemon's other secrets (${VAR}
		// from its service environment) are not ctl's business.
		if cfg, err = config.LoadServer(o.configFile); err != nil {
			printConfigError(o.configFile, err, o.stderr)
			return nil, errCtlReported
		}
		c.base = ctlBaseFromListen(cfg.Server.Address)
	}
	if o.api != "" {
		base, err := ctlParseAPI(o.api)
		if err != nil {
			return nil, err
		}
		c.base = base
	}
	if err := c.credentials(o, cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// ctlParseAPI checks --api: http or https, a host, no credentials (they
// would show in `ps`), no query.
func ctlParseAPI(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", ctlUsagef("--api: want a URL such as http://127.0.0.1:9080")
	}
	if u.User != nil {
		return "", ctlUsagef("--api must not hold credentials (%s); use --password-file or --config", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", ctlUsagef("--api: want a base URL without query or fragment")
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// ctlBaseFromListen turns server.address into a URL to call: a wildcard
// listener (0.0.0.0:9080, [::]:9080, :9080) is reached on loopback.
func ctlBaseFromListen(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ctlDefaultAPI
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// credentials picks Basic or bearer auth. Secrets come from files or the
// loaded configuration, never from a flag value.
func (c *ctlClient) credentials(o *ctlOptions, cfg *config.Config) error {
	var auth config.APIAuth
	if cfg != nil {
		auth = cfg.Server.APIAuth
	}
	if o.tokenFile != "" {
		if o.passwordFile != "" || o.apiUser != "" {
			return ctlUsagef("--token-file and --api-user/--password-file exclude each other")
		}
		tok, err := config.ReadSecretFile(o.tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %v", err)
		}
		c.token = strings.TrimSpace(tok)
		return nil
	}
	if o.passwordFile != "" || o.apiUser != "" {
		c.user = o.apiUser
		if c.user == "" {
			c.user = auth.Username
		}
		if c.user == "" {
			return ctlUsagef("--password-file needs --api-user (or --config with server.api_auth.username)")
		}
		if strings.Contains(c.user, ":") {
			return ctlUsagef("--api-user must not contain ':'")
		}
		if o.passwordFile != "" {
			pw, err := config.ReadSecretFile(o.passwordFile)
			if err != nil {
				return fmt.Errorf("--password-file: %v", err)
			}
			c.password = pw
		} else {
			c.password = auth.Password
		}
		if c.password == "" {
			return ctlUsagef("--api-user needs --password-file (or --config with server.api_auth.password)")
		}
		return nil
	}
	switch {
	case auth.Username != "" && auth.Password != "":
		c.user, c.password = auth.Username, auth.Password
	case auth.BearerToken != "":
		c.token = strings.TrimSpace(auth.BearerToken)
	}
	return nil
}

// ctlEscapeID percent-encodes everything but RFC 3986's unreserved
// characters, so IDs such as imap://10.0.0.3:143 or gateway:web@https://h:443
// stay one path segment however routers clean or split paths.
func ctlEscapeID(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		ch := id[i]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9',
			ch == '-', ch == '.', ch == '_', ch == '~':
			b.WriteByte(ch)
		default:
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// ctlAPIError is an answer other than 2xx, with the API's own message.
type ctlAPIError struct {
	method, path string
	status       int
	msg          string
	errors       []string // reload: every configuration problem
}

func (e *ctlAPIError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.msg)
	switch e.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		s += " (give credentials: --config FILE, --api-user with --password-file, or --token-file)"
	}
	return s
}

// do sends one request and returns the status and the body, read up to
// limit bytes.
func (c *ctlClient) do(ctx context.Context, method, path string, body any, limit int64) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %v", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "backline-ctl")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.user != "":
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, c.transportError(ctx, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil:
		return 0, nil, c.transportError(ctx, method, path, err)
	case int64(len(data)) > limit:
		return 0, nil, fmt.Errorf("%s %s: the answer is larger than %d KiB; is %s backline's API?", method, path, limit>>10, c.base)
	}
	return resp.StatusCode, data, nil
}

func (c *ctlClient) transportError(ctx context.Context, method, path string, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s %s%s: no answer within %s (--timeout)", method, c.base, path, c.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s %s%s: %v (is the daemon running? see --api and --config)", method, c.base, path, err)
}

// call sends a request and decodes a 2xx JSON answer into out (when not
// nil); it returns the raw body for --json.
func (c *ctlClient) call(ctx context.Context, method, path string, body, out any, limit int64) ([]byte, error) {
	status, data, err := c.do(ctx, method, path, body, limit)
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		return data, ctlDecodeError(method, path, status, data)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%s %s: %d with a body that is not JSON: %s", method, path, status, ctlSnippet(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: unexpected JSON: %v", method, path, err)
		}
	}
	return data, nil
}

// ctlDecodeError takes the API's {"error": ...} (or reload's
// {"errors": [...]}); anything else, such as a proxy's HTML page, is shown
// as a short, cleaned excerpt.
func ctlDecodeError(method, path string, status int, data []byte) error {
	e := &ctlAPIError{method: method, path: path, status: status}
	var body struct {
		Error  string   `json:"error"`
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(data, &body) == nil && (body.Error != "" || len(body.Errors) > 0) {
		e.msg, e.errors = body.Error, body.Errors
		if e.msg == "" {
			e.msg = strings.Join(body.Errors, "; ")
		}
		return e
	}
	e.msg = http.StatusText(status)
	if len(bytes.TrimSpace(data)) > 0 {
		e.msg += " (not the API's JSON: " + ctlSnippet(data) + ")"
	}
	return e
}

// ctlSnippet is the start of a body, on one line, without control bytes.
func ctlSnippet(data []byte) string {
	const max = 200
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(data), "?")), " ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return ctlClean(s)
}

// ctlClean makes text from the daemon safe for a terminal: control
// characters (escape sequences) become visible \x escapes, invalid UTF-8
// becomes "?".
func ctlClean(s string) string {
	// A stray byte such as 0x9b is a control sequence introducer to a
	// terminal not in UTF-8 mode.
	s = strings.ToValidUTF8(s, "?")
	if !strings.ContainsFunc(s, ctlIsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if ctlIsControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// redact removes the credentials from anything about to be printed: a
// broken or hostile endpoint could echo the Authorization header back, and
// a daemon of an older version may still quote a backend's Set-Cookie line
// in an error.
func (c *ctlClient) redact(s string) string {
	return c.redactSecrets(redact.ErrorText(s))
}

// redactSecrets removes ctl's own credentials only (JSON goes through
// redactJSONStrings for the rest).
func (c *ctlClient) redactSecrets(s string) string {
	secrets := []string{c.password, c.token}
	if c.password != "" {
		secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.password)))
	}
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "<redacted>")
		}
	}
	return s
}

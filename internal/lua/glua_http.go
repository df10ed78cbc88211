package lua

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/redact"
)

// glua_http: cjoudrey/gluahttp's API as its README documents it
// (request, get, post, put, patch, delete, head, request_batch; options
// query, cookies, body, form, headers, timeout, auth; responses with body,
// body_size, headers, cookies, status_code, url).
//
// Differences, on purpose: requests go only to hosts in
// lua.config.http_client.allowed_hosts (default: none), redirects only to
// allowed hosts and at most max_redirects; each request ends with the
// sooner of the run's script_timeout, http_client.timeout and the
// script's own timeout option; a body over max_response_body is an error,
// and the body is charged to the run's max_memory while it is read;
// HTTP(S)_PROXY is not used.

const (
	maxHTTPBatch = 16
	// maxHTTPResponseHeader bounds a response's header block (Go's default
	// is 1 MiB); what becomes Lua values is charged to the run as well.
	maxHTTPResponseHeader = 256 << 10
)

func init() {
	fns := map[string]runFunc{
		"request":       httpRequestFunc(""),
		"request_batch": httpRequestBatch,
	}
	for _, m := range []string{"get", "post", "put", "patch", "delete", "head"} {
		fns[m] = httpRequestFunc(strings.ToUpper(m))
	}
	registerModule(module{Name: "glua_http", Filter: true, Password: true, NotGlobal: true, Functions: fns})
}

// httpClient is the engine's client for its configuration, kept on the
// Host so connections are reused across runs.
func (r *scriptRun) httpClient() (*http.Client, allowList, config.LuaHTTPClient) {
	hc := r.engine.cfg.Config.HTTPClient
	allow := newAllowList("lua.config.http_client.allowed_hosts", hc.AllowedHosts)
	key := fmt.Sprintf("glua_http.client %q %d", hc.AllowedHosts, hc.MaxRedirects)
	host := r.engine.host
	roots := host.outboundRoots() // not inside hostValue: it holds the Host's lock
	client := hostValue(host, key, func() *http.Client {
		transport := &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				h, p, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				port, _ := strconv.Atoi(p)
				return allow.dial(ctx, h, port)
			},
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
			MaxIdleConnsPerHost:    4,
			MaxResponseHeaderBytes: maxHTTPResponseHeader,
			IdleConnTimeout:        30 * time.Second,
			TLSHandshakeTimeout:    10 * time.Second,
		}
		return &http.Client{
			Transport: transport,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) > hc.MaxRedirects {
					return fmt.Errorf("stopped after %d redirects (lua.config.http_client.max_redirects)", hc.MaxRedirects)
				}
				if !allow.permits(req.URL.Hostname(), urlPort(req.URL)) {
					return fmt.Errorf("redirect to %w", allow.refuse(req.URL.Hostname(), urlPort(req.URL)))
				}
				return nil
			},
		}
	})
	return client, allow, hc
}

func urlPort(u *url.URL) int {
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return p
	}
	if u.Scheme == "https" {
		return 443
	}
	return 80
}

// httpRequestFunc is request(method, url[, options]) when method is "",
// else get(url[, options]) and friends.
func httpRequestFunc(method string) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		arg := 1
		m := method
		if m == "" {
			m = strings.ToUpper(L.CheckString(1))
			arg = 2
		}
		rawURL := L.CheckString(arg)
		opts, _ := L.Get(arg + 1).(*glua.LTable)
		resp, err := r.doHTTP(L, m, rawURL, opts)
		if err != nil {
			return pushNilErr(L, r.redact(redact.ErrorText(err.Error())))
		}
		L.Push(resp)
		return 1
	}
}

// httpRequestBatch is request_batch({ {method, url[, options]}, ... }) ->
// (responses, errors): responses[i] is nil where errors[i] is set; errors
// is nil when every request succeeded. Requests run one after another.
func httpRequestBatch(r *scriptRun, L *glua.LState) int {
	list := L.CheckTable(1)
	n := list.Len()
	if n > maxHTTPBatch {
		L.ArgError(1, fmt.Sprintf("at most %d requests per batch", maxHTTPBatch))
	}
	responses, errs := L.CreateTable(n, 0), L.CreateTable(0, 0)
	failed := false
	for i := 1; i <= n; i++ {
		spec, ok := list.RawGetInt(i).(*glua.LTable)
		if !ok {
			L.ArgError(1, fmt.Sprintf("request %d must be a table {method, url[, options]}", i))
		}
		method, rawURL := glua.LVAsString(spec.RawGetInt(1)), glua.LVAsString(spec.RawGetInt(2))
		opts, _ := spec.RawGetInt(3).(*glua.LTable)
		resp, err := r.doHTTP(L, strings.ToUpper(method), rawURL, opts)
		if err != nil {
			failed = true
			errs.RawSetInt(i, glua.LString(r.redact(redact.ErrorText(err.Error()))))
			continue
		}
		responses.RawSetInt(i, resp)
	}
	L.Push(responses)
	if failed {
		L.Push(errs)
	} else {
		L.Push(glua.LNil)
	}
	return 2
}

func (r *scriptRun) doHTTP(L *glua.LState, method, rawURL string, opts *glua.LTable) (glua.LValue, error) {
	if !safeHTTPMethod(method) {
		// A dry run sends only read-only methods (dryrun.go); the rest
		// fail like an unreachable server.
		if err := r.dryRefused(httpEffectName(method)); err != nil {
			return nil, err
		}
	}
	client, allow, hc := r.httpClient()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("invalid url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("only http and https URLs are supported")
	}
	if !allow.permits(u.Hostname(), urlPort(u)) {
		return nil, allow.refuse(u.Hostname(), urlPort(u))
	}
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = config.DefaultLuaHTTPTimeout
	}
	var body io.Reader
	contentType := ""
	if opts != nil {
		if q, ok := opts.RawGetString("query").(glua.LString); ok {
			u.RawQuery = string(q)
		}
		if b, ok := opts.RawGetString("body").(glua.LString); ok {
			body = strings.NewReader(string(b))
		}
		if f, ok := opts.RawGetString("form").(glua.LString); ok {
			body, contentType = strings.NewReader(string(f)), "application/x-www-form-urlencoded"
		}
		if d, ok := optTimeout(opts.RawGetString("timeout")); ok && d < timeout {
			timeout = d
		} else if !ok {
			return nil, errors.New("invalid timeout option (seconds or a duration such as \"5s\")")
		}
	}
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "backline-lua")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if opts != nil {
		if err := applyHTTPOptions(req, opts); err != nil {
			return nil, err
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL may carry a query the script wants private
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("request stopped after %s: %w", timeout, err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	// Each name becomes a hash entry of the headers table (and maybe of
	// cookies) holding the joined values: luaBuild's measured costs.
	headerSize := int64(2 * luaHashCost)
	for k, v := range resp.Header {
		headerSize += int64(len(k)) + luaHashEntryCost + luaBoxCost
		for _, x := range v {
			headerSize += int64(len(x)) + 2
		}
	}
	r.vm().chargeRetained(L, headerSize)
	text, err := r.readBody(L, resp, int64(hc.MaxResponseBody))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("request stopped after %s: %w", timeout, err)
		}
		return nil, err
	}
	return httpResponseTable(L, resp, text), nil
}

// optTimeout reads the timeout option: seconds, or a Go duration string.
func optTimeout(v glua.LValue) (time.Duration, bool) {
	switch x := v.(type) {
	case *glua.LNilType:
		return 1<<63 - 1, true
	case glua.LNumber:
		if x > 0 && x < 1e6 {
			return time.Duration(float64(x) * float64(time.Second)), true
		}
	case glua.LString:
		if d, err := time.ParseDuration(string(x)); err == nil && d > 0 {
			return d, true
		}
	}
	return 0, false
}

func applyHTTPOptions(req *http.Request, opts *glua.LTable) error {
	var err error
	if h, ok := opts.RawGetString("headers").(*glua.LTable); ok {
		h.ForEach(func(k, v glua.LValue) {
			name, value := glua.LVAsString(k), glua.LVAsString(v)
			if strings.ContainsAny(name+value, "\r\n\x00") {
				err = errors.New("header names and values must not contain CR, LF or NUL")
				return
			}
			req.Header.Set(name, value)
		})
	}
	if c, ok := opts.RawGetString("cookies").(*glua.LTable); ok {
		c.ForEach(func(k, v glua.LValue) {
			req.AddCookie(&http.Cookie{Name: glua.LVAsString(k), Value: glua.LVAsString(v)})
		})
	}
	if a, ok := opts.RawGetString("auth").(*glua.LTable); ok {
		req.SetBasicAuth(glua.LVAsString(a.RawGetString("user")), glua.LVAsString(a.RawGetString("pass")))
	}
	return err
}

// readBody reads at most limit bytes, charging what it holds to the run's
// budget as it grows.
func (r *scriptRun) readBody(L *glua.LState, resp *http.Response, limit int64) (string, error) {
	if resp.ContentLength > limit {
		return "", fmt.Errorf("response body of %d bytes is larger than lua.config.http_client.max_response_body (%s)", resp.ContentLength, config.ByteSize(limit))
	}
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if int64(b.Len()+n) > limit {
			return "", fmt.Errorf("response body is larger than lua.config.http_client.max_response_body (%s)", config.ByteSize(limit))
		}
		b.Write(buf[:n])
		r.vm().charge(L, int64(b.Len()))
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	r.vm().chargeRetained(L, int64(b.Len()))
	return b.String(), nil
}

func httpResponseTable(L *glua.LState, resp *http.Response, body string) *glua.LTable {
	t := L.CreateTable(0, 6)
	t.RawSetString("body", glua.LString(body))
	t.RawSetString("body_size", glua.LNumber(len(body)))
	t.RawSetString("status_code", glua.LNumber(resp.StatusCode))
	t.RawSetString("url", glua.LString(resp.Request.URL.String()))
	headers := L.CreateTable(0, len(resp.Header))
	for k, v := range resp.Header {
		headers.RawSetString(k, glua.LString(strings.Join(v, ", ")))
	}
	t.RawSetString("headers", headers)
	cookies := L.CreateTable(0, 0)
	for _, c := range resp.Cookies() {
		cookies.RawSetString(c.Name, glua.LString(c.Value))
	}
	t.RawSetString("cookies", cookies)
	return t
}

package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/redact"
)

// requestIDSettings are the compiled gateway.request_id settings: canonical
// header names, "" for off.
type requestIDSettings struct {
	backend, client, acceptFrom string
	uuid4                       bool
}

func newRequestIDSettings(r *config.GatewayRequestID) requestIDSettings {
	canon := func(p *string) string {
		if p == nil {
			return ""
		}
		return textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(*p))
	}
	return requestIDSettings{backend: canon(r.BackendHeader), client: canon(r.ClientHeader), acceptFrom: canon(&r.AcceptFromHeader),
		uuid4: r.Format == config.RequestIDUUID4}
}

// requestID is the client's id when accept_from_header names a header that
// holds a usable one, else a new one. A client's id goes upstream and into
// every log line, so only a short run of safe characters is taken.
func (g *Gateway) requestID(r *http.Request) string {
	if h := g.reqIDs.acceptFrom; h != "" {
		if vs := r.Header[h]; len(vs) == 1 && usableRequestID(vs[0]) {
			return vs[0]
		}
	}
	if g.reqIDs.uuid4 {
		return newUUID4()
	}
	return g.ids.next()
}

// newUUID4 is a random (version 4, RFC 9562) UUID.
func newUUID4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

func usableRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~:+/=", c) >= 0) {
			return false
		}
	}
	return true
}

// accessWriter records what the client was sent, for the access log line,
// and puts the request id into the response head whichever path answers.
type accessWriter struct {
	http.ResponseWriter
	g      *Gateway
	r      *http.Request
	id     string
	start  time.Time
	status int
	bytes  int64
	log    bool
	ep     *endpoint
	rd     *requestData
	idv    [1]string // the request id header's value, without an allocation of its own
	// errType is the error the gateway answered with (writeError); ""
	// for an origin's answer, whatever its fields say.
	errType string
}

func (a *accessWriter) adoptHeader(h http.Header) bool {
	ad, ok := a.ResponseWriter.(headerAdopter)
	return ok && ad.adoptHeader(h)
}

func (a *accessWriter) WriteHeader(code int) {
	if a.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		a.status = code
		if h := a.g.reqIDs.client; h != "" && !setOwnField(a.ResponseWriter, h, a.id) {
			a.idv[0] = a.id
			a.Header()[h] = a.idv[:]
		}
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *accessWriter) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	n, err := a.ResponseWriter.Write(p)
	a.bytes += int64(n)
	return n, err
}

// ReadFrom hands a body on to the writer underneath, so a body spliced
// from the origin (splice.go) stays spliced with the access log on.
func (a *accessWriter) ReadFrom(r io.Reader) (int64, error) {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := a.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		bp := bodyBufPool.Get().(*[]byte)
		n, err = io.CopyBuffer(struct{ io.Writer }{a.ResponseWriter}, r, *bp)
		bodyBufPool.Put(bp)
	}
	a.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushing, hijacking for upgrades).
func (a *accessWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// wrapForAccess returns the writer the request is served through: the
// plain one when neither the access log nor a client id header is on.
// a is where the wrapper goes (ServeHTTP allocates it with the rest of the
// request's state).
func (g *Gateway) wrapForAccess(w http.ResponseWriter, r *http.Request, id string, start time.Time, a *accessWriter) (http.ResponseWriter, *accessWriter) {
	// The level can change at run time (server.log_level reload).
	log := g.accessLog && g.accessLogger.Enabled(r.Context(), slog.LevelInfo)
	if !log && g.reqIDs.client == "" {
		return w, nil
	}
	*a = accessWriter{ResponseWriter: w, g: g, r: r, id: id, start: start, log: log}
	return a, a
}

// noteRoute tells the access log which endpoint serves the request.
func noteRoute(w http.ResponseWriter, ep *endpoint, rd *requestData) {
	if a, ok := w.(*accessWriter); ok {
		a.ep, a.rd = ep, rd
	}
}

// finish writes the access log line: JSON fields an operator filters on,
// no credentials (Authorization, Cookie and secret-looking query values
// are never logged; custom_log_fields log what the operator chose).
func (a *accessWriter) finish() {
	if a == nil || !a.log {
		return
	}
	status, errType := a.status, a.errType
	if status == 0 {
		// Nothing was sent: the client left, or the handler aborted.
		status, errType = kindClientGone.Status, kindClientGone.Type
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("request_id", a.id),
		slog.String("method", a.r.Method),
		slog.String("path", loggedPath(a.r.URL.Path)),
	)
	if q := a.r.URL.RawQuery; q != "" {
		attrs = append(attrs, slog.String("query", redact.Query(q)))
	}
	if a.ep != nil {
		attrs = append(attrs, slog.String("endpoint", a.ep.path), slog.String("backend", a.ep.backend.rt.name))
	}
	if a.rd != nil && a.rd.origin != "" {
		attrs = append(attrs, slog.String("origin", a.rd.origin)) // of a backend with origins: <label>@<host>:<port>
	}
	attrs = append(attrs,
		slog.Int("status", status),
		slog.Int64("bytes", a.bytes),
		slog.Float64("duration_ms", float64(time.Since(a.start).Microseconds())/1000),
		slog.String("client_ip", clientIP(a.r)),
		slog.String("proto", a.r.Proto),
	)
	if a.r.ContentLength > 0 {
		attrs = append(attrs, slog.Int64("request_bytes", a.r.ContentLength))
	}
	if ua := a.r.Header.Get("User-Agent"); ua != "" {
		attrs = append(attrs, slog.String("user_agent", ua))
	}
	if errType != "" {
		attrs = append(attrs, slog.String("error_type", errType))
	}
	if fields := a.customFields(); len(fields) > 0 {
		rd := a.rd
		if rd == nil { // no endpoint: the gateway's fields still see the request
			rd = &requestData{req: a.r, id: a.id}
		}
		attrs = append(attrs, customGroup(fields, rd))
	}
	a.g.accessLogger.LogAttrs(a.r.Context(), slog.LevelInfo, "gateway access", attrs...)
}

// customFields are the gateway's fields with the endpoint's laid over
// them (same name: the endpoint's value).
func (a *accessWriter) customFields() valueSet {
	var own valueSet
	if a.ep != nil {
		own = a.ep.logFields
	}
	if len(a.g.logFields) == 0 {
		return own
	}
	if len(own) == 0 {
		return a.g.logFields
	}
	merged := make(valueSet, 0, len(a.g.logFields)+len(own))
	for _, nv := range a.g.logFields {
		shadowed := false
		for _, o := range own {
			shadowed = shadowed || o.name == nv.name
		}
		if !shadowed {
			merged = append(merged, nv)
		}
	}
	return append(merged, own...)
}

// customGroup evaluates custom_log_fields into the "custom" field.
func customGroup(fields valueSet, rd *requestData) slog.Attr {
	custom := make([]any, 0, len(fields))
	for _, nv := range fields {
		vals := evalAll(nv.values, rd)
		if len(vals) == 1 {
			custom = append(custom, slog.String(nv.name, vals[0]))
		} else {
			custom = append(custom, slog.Any(nv.name, vals))
		}
	}
	return slog.Group("custom", custom...)
}

// loggedPath is a request path as the logs show it: a path parameter with a
// sensitive name (;jsessionid=…, ;PHPSESSID=…) has its value withheld, as
// in a query. A path without '=' comes back as it is, with no allocation.
func loggedPath(p string) string {
	return redact.Text(p)
}

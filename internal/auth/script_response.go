package auth

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/backline/backline/internal/lua"
)

// newExchange is the request as Lua's nauthilus_http_request shows it: the
// JSON endpoint's body as it parsed it; for header and nginx, whatever body
// came (nginx sends none), read up to the same bound. The password header
// is gone already (parseHeaderRequest); Authorization is hidden by lua.
func newExchange(r *http.Request, req *Request, hidden *lua.HiddenHeaders, limit int64) *lua.HTTPExchange {
	body, bodyErr := req.body, ""
	if body == nil && r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		switch {
		case err != nil:
			bodyErr = "reading request body: " + err.Error()
		case int64(len(b)) > limit:
			bodyErr = "request body larger than " + strconv.FormatInt(limit, 10) + " bytes"
		default:
			body = b
		}
	}
	return lua.NewHTTPExchange(r, body, bodyErr, hidden)
}

// maxNginxScriptHeaderBytes bounds what filters add to an nginx answer:
// nginx reads an auth_http answer of at most 1024 bytes, and the answer's
// own headers must still fit. The largest answer without script headers
// is a success with a 512-byte Auth-User and an IPv6 Auth-Server: status
// line, Auth-Status, Auth-User, Auth-Server, Auth-Port, the session, the
// memory-cache header, Date, Content-Length and Connection come to about
// 790 bytes, which leaves 192 with a margin.
const maxNginxScriptHeaderBytes = 192

// applyScriptResponse puts the headers filters set
// (nauthilus_http_response) on the answer before the endpoint writes its
// own, which therefore win on a name clash (CheckResponseHeader already
// keeps scripts off the answer's names). A status set by a filter replaces
// the answer's on the header and json endpoints; nginx reads only
// Auth-Status, so there it is ignored, and headers are kept within
// maxNginxScriptHeaderBytes (the rest dropped and logged).
func (h *Handler) applyScriptResponse(w http.ResponseWriter, endpoint string, x *lua.HTTPExchange, session string) http.ResponseWriter {
	extra := x.ResponseHeaders()
	hdr := w.Header()
	budget := maxNginxScriptHeaderBytes
	for _, name := range lua.ResponseHeaderNames(extra) {
		for _, v := range extra[name] {
			if endpoint == "nginx" {
				cost := len(name) + len(v) + len(": \r\n")
				if cost > budget {
					h.log.Warn("header set by a Lua filter dropped: an nginx answer has no room for it",
						slog.String("session", session), slog.String("header", name))
					continue
				}
				budget -= cost
			}
			hdr.Add(name, v)
		}
	}
	if code := x.Status(); code != 0 && endpoint != "nginx" {
		return &statusOverride{ResponseWriter: w, code: code}
	}
	return w
}

// statusOverride writes the status a filter set instead of the endpoint's.
type statusOverride struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusOverride) WriteHeader(int) {
	if !s.wrote {
		s.wrote = true
		s.ResponseWriter.WriteHeader(s.code)
	}
}

func (s *statusOverride) Write(b []byte) (int, error) {
	s.WriteHeader(0)
	return s.ResponseWriter.Write(b)
}

func (s *statusOverride) Unwrap() http.ResponseWriter { return s.ResponseWriter }

package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/backline/backline/internal/config"
)

// kindOpenAPI is Couper's backend_openapi_validation: 400 when the request
// violates the document (nothing is sent upstream), 502 for the response.
var (
	kindOpenAPIRequest  = errorKind{"backend_openapi_validation", http.StatusBadRequest}
	kindOpenAPIResponse = errorKind{"backend_openapi_validation", http.StatusBadGateway}
)

// openapiValidator checks a backend's requests and responses against the
// document of its openapi block, loaded once at config load.
type openapiValidator struct {
	router         routers.Router
	basePaths      []string // from servers, longest first
	ignoreRequest  bool
	ignoreResponse bool
	maxBody        int64
	opts           *openapi3filter.Options
}

func newOpenAPIValidator(o *config.BackendOpenAPI) (*openapiValidator, error) {
	if o == nil || o.Doc == nil {
		return nil, nil
	}
	// The backend's origin decides where a request goes: the hosts of the
	// document's servers are not matched, only their paths, as base paths.
	routed := *o.Doc
	routed.Servers = nil
	router, err := legacy.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	v := &openapiValidator{
		router: router, ignoreRequest: o.IgnoreRequestViolations, ignoreResponse: o.IgnoreResponseViolations,
		maxBody: int64(o.MaxBodySize),
	}
	if v.maxBody <= 0 {
		v.maxBody = config.DefaultOpenAPIMaxBodySize
	}
	seen := map[string]bool{}
	for _, s := range o.Doc.Servers {
		bp, err := s.BasePath()
		bp = strings.TrimSuffix(bp, "/")
		if err == nil && bp != "" && !seen[bp] {
			seen[bp] = true
			v.basePaths = append(v.basePaths, bp)
		}
	}
	sort.Slice(v.basePaths, func(i, j int) bool { return len(v.basePaths[i]) > len(v.basePaths[j]) })
	v.opts = &openapi3filter.Options{
		// The gateway checks a contract; it is not the authority on
		// credentials (the origin is), and it must not change what it
		// forwards by filling in defaults.
		AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
		SkipSettingDefaults: true,
		MultiError:          false,
	}
	v.opts.WithCustomSchemaErrorFunc(schemaViolation)
	return v, nil
}

// openapiCheck is one request's validation state, kept for its response.
type openapiCheck struct {
	input *openapi3filter.RequestValidationInput // nil: no route matched
	noted string                                 // an ignored request violation
}

// route finds the operation for req, trying the servers' base paths first.
func (v *openapiValidator) route(req *http.Request) (*routers.Route, map[string]string, error) {
	probe := *req
	u := *req.URL
	probe.URL = &u
	for _, bp := range v.basePaths {
		if rest, ok := strings.CutPrefix(req.URL.Path, bp); ok && (rest == "" || rest[0] == '/') {
			u.Path, u.RawPath = rest, ""
			if u.Path == "" {
				u.Path = "/"
			}
			if route, params, err := v.router.FindRoute(&probe); err == nil {
				return route, params, nil
			}
		}
	}
	u.Path, u.RawPath = req.URL.Path, ""
	return v.router.FindRoute(&probe)
}

// checkRequest validates the upstream request as it is about to be sent.
// The body is read into memory up to maxBody; a larger one is not
// validated: it is refused (413), or forwarded as it streams when request
// violations are ignored.
func (v *openapiValidator) checkRequest(ctx context.Context, out *http.Request) (*openapiCheck, *gatewayError) {
	check := &openapiCheck{}
	route, params, err := v.route(out)
	if err != nil {
		return check, v.requestViolation(check, routeViolation(err))
	}
	check.input = &openapi3filter.RequestValidationInput{Request: out, PathParams: params, Route: route, Options: v.opts}
	query, err := url.ParseQuery(out.URL.RawQuery)
	if err != nil {
		// The library would skip the broken pair and validate what is
		// left, while the origin may read it some other way.
		return check, v.requestViolation(check, "the query string cannot be parsed")
	}
	check.input.QueryParams = query
	if out.Body != nil && out.Body != http.NoBody {
		data, rest, err := readBounded(out.Body, v.maxBody)
		switch {
		case err != nil:
			return check, newError(kindClientRequest, &clientError{err: fmt.Errorf("reading the request body for openapi validation: %w", err)})
		case rest != nil:
			out.Body = rest
			if !v.ignoreRequest {
				return check, newError(kindTooLarge, fmt.Errorf("request body larger than the openapi max_body_size (%d bytes)", v.maxBody))
			}
			check.noted = "request body larger than max_body_size: not validated"
			return check, nil
		}
		out.ContentLength = int64(len(data))
		out.Body = io.NopCloser(bytes.NewReader(data))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}
	if err := openapi3filter.ValidateRequest(ctx, check.input); err != nil {
		if out.GetBody != nil {
			out.Body, _ = out.GetBody() // the library closed what it read
		}
		return check, v.requestViolation(check, describeViolation(err))
	}
	if out.GetBody != nil {
		out.Body, _ = out.GetBody()
	}
	return check, nil
}

func (v *openapiValidator) requestViolation(check *openapiCheck, msg string) *gatewayError {
	if v.ignoreRequest {
		check.noted = msg
		return nil
	}
	return newError(kindOpenAPIRequest, errors.New("request: "+msg))
}

// checkResponse validates resp, buffering its body up to maxBody. A larger
// body cannot be validated: it is a violation unless response violations
// are ignored, and then it streams through unchecked.
func (v *openapiValidator) checkResponse(ctx context.Context, check *openapiCheck, resp *http.Response) (noted string, gerr *gatewayError) {
	violation := func(msg string) (string, *gatewayError) {
		if v.ignoreResponse {
			return msg, nil
		}
		return "", newError(kindOpenAPIResponse, errors.New("response: "+msg))
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return "", nil // a tunnel, not a response the document describes
	}
	if check.input == nil {
		// Couper: a request that matched no route leaves nothing to
		// validate the response against, which fails it too.
		return violation("no operation of the document matches the request")
	}
	data, rest, err := readBounded(resp.Body, v.maxBody)
	if err != nil {
		return "", newError(kindBackend, fmt.Errorf("reading the response body for openapi validation: %w", err))
	}
	if rest != nil {
		resp.Body = rest
		return violation(fmt.Sprintf("response body larger than the openapi max_body_size (%d bytes): not validated", v.maxBody))
	}
	body := resp.Body
	resp.Body = &bufferedBody{Reader: bytes.NewReader(data), orig: body}
	resp.ContentLength = int64(len(data))
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: check.input, Status: resp.StatusCode, Header: resp.Header, Options: v.opts,
	}
	plain, err := decodedForValidation(resp.Header, data, v.maxBody)
	if err != nil {
		return violation(err.Error())
	}
	in.SetBodyBytes(plain)
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		return violation(describeViolation(err))
	}
	return "", nil
}

// bufferedBody serves a body read ahead and closes the original (which
// frees the upstream connection) when done.
type bufferedBody struct {
	*bytes.Reader
	orig io.Closer
}

func (b *bufferedBody) Close() error { return b.orig.Close() }

// readBounded reads r up to limit bytes. If r holds more, rest is a reader
// that replays what was read and continues with r.
func readBounded(r io.ReadCloser, limit int64) (data []byte, rest io.ReadCloser, err error) {
	data, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > limit {
		return nil, struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), r), r}, nil
	}
	return data, nil, nil
}

// logOpenAPI logs an ignored violation (Couper logs them in its
// "validation" field and goes on).
func (g *Gateway) logOpenAPI(rd *requestData, rt *backendRuntime, side, msg string) {
	rt.metrics.errors.WithLabelValues("openapi_ignored").Inc()
	g.logger.Warn("gateway openapi violation ignored", "request_id", rd.id, "backend", rt.name,
		"error_type", kindOpenAPIRequest.Type, "validation", side+": "+msg)
}

// describeViolation renders a validation error for the log without the
// values that failed: a parameter or body may carry a secret. The library
// puts values into parse errors and some schema messages, so the text is
// built from the structured parts.
func describeViolation(err error) string {
	var me openapi3.MultiError
	if errors.As(err, &me) && len(me) > 0 {
		return describeViolation(me[0])
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		what := "request"
		switch {
		case re.Parameter != nil:
			what = fmt.Sprintf("parameter %q in %s", re.Parameter.Name, re.Parameter.In)
		case re.RequestBody != nil:
			what = "request body"
		}
		return what + ": " + innerViolation(re.Reason, re.Err)
	}
	var rse *openapi3filter.ResponseError
	if errors.As(err, &rse) {
		return innerViolation(rse.Reason, rse.Err)
	}
	var sre *openapi3filter.SecurityRequirementsError
	if errors.As(err, &sre) {
		return "security requirements failed"
	}
	return innerViolation("", err)
}

func innerViolation(reason string, err error) string {
	var se *openapi3.SchemaError
	var pe *openapi3filter.ParseError
	var detail string
	switch {
	case err == nil:
	case errors.As(err, &se):
		detail = schemaViolation(se)
	case errors.As(err, &pe):
		detail = "cannot be parsed"
		if pe.Reason != "" {
			detail += ": " + pe.Reason
		}
	case errors.Is(err, openapi3filter.ErrInvalidRequired):
		detail = "value is required but missing"
	case errors.Is(err, openapi3filter.ErrInvalidEmptyValue):
		detail = "empty value is not allowed"
	default:
		var me openapi3.MultiError
		if errors.As(err, &me) && len(me) > 0 {
			detail = innerViolation("", me[0])
		} else {
			detail = "does not match the document"
		}
	}
	switch {
	case reason != "" && detail != "":
		return reason + ": " + detail
	case reason != "":
		return reason
	}
	return detail
}

// schemaViolation is a schema error as its JSON pointer and reason; the
// library documents Reason as free of the value.
func schemaViolation(se *openapi3.SchemaError) string {
	reason := se.Reason
	if reason == "" {
		reason = "doesn't match schema " + strconv.Quote(se.SchemaField)
	}
	if p := se.JSONPointer(); len(p) > 0 {
		// A hostile body nests thousands of levels; the log line need not.
		if len(p) > maxPointerSegments {
			p = append(p[:maxPointerSegments:maxPointerSegments], fmt.Sprintf("...(%d more)", len(p)-maxPointerSegments))
		}
		return "at /" + strings.Join(p, "/") + ": " + reason
	}
	return reason
}

const maxPointerSegments = 12

// routeViolation names why no operation matched.
func routeViolation(err error) string {
	var re *routers.RouteError
	if errors.As(err, &re) {
		return re.Reason
	}
	return "no operation of the document matches the request"
}

// request is the openapi check in validateLayer on the way out.
func (v *openapiValidator) request(c *call, req *http.Request) *gatewayError {
	check, gerr := v.checkRequest(c.ctx, req)
	c.check = check
	if gerr == nil && check.noted != "" {
		c.g.logOpenAPI(c.up.data, c.bv.rt, "request", check.noted)
	}
	return gerr
}

// response is the openapi check in validateLayer on the way back.
func (v *openapiValidator) response(c *call, resp *http.Response) *gatewayError {
	noted, gerr := v.checkResponse(c.ctx, c.check, resp)
	if noted != "" {
		c.g.logOpenAPI(c.up.data, c.bv.rt, "response", noted)
	}
	return gerr
}

// decodedForValidation is the body as the document describes it: a gzip
// body (the client accepted it and the origin compressed) is inflated,
// bounded by limit too, for validation only; the client gets it as sent.
func decodedForValidation(h http.Header, data []byte, limit int64) ([]byte, error) {
	if !strings.EqualFold(strings.TrimSpace(h.Get("Content-Encoding")), "gzip") {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, errors.New("gzip response body cannot be read")
	}
	plain, err := io.ReadAll(io.LimitReader(zr, limit+1))
	switch {
	case err != nil:
		return nil, errors.New("gzip response body cannot be read")
	case int64(len(plain)) > limit:
		return nil, fmt.Errorf("inflated response body larger than the openapi max_body_size (%d bytes): not validated", limit)
	}
	return plain, nil
}

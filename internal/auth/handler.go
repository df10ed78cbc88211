package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/lua"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/state"
)

// Options wire the handler to the rest of backline.
type Options struct {
	Config  *config.Config
	Health  health.Source
	Checker probe.Checker
	// Lua runs lua.filters and type lua passdbs; nil means no filters.
	Lua    *lua.Engine
	Logger *slog.Logger
	// Registerer receives the auth metrics; nil keeps them private.
	Registerer prometheus.Registerer
	// Affinity keeps the sticky policy's user affinity; nil gives the
	// handler a memory store of its own (lost on reload).
	Affinity state.AffinityStore
	// SharedCache, when set, holds the positive cache instead of this
	// handler's memory (storage.redis with auth.cache.hmac_key_file;
	// sharedcache.go). Its keys are HMACs under Config's HMACKey.
	SharedCache state.AuthCacheStore

	// filters and scripts replace the Lua engine in tests.
	filters filterRunner
	scripts passwordScripter
}

// passwordScripter loads Lua password scripts (type lua passdbs).
type passwordScripter interface {
	newPasswordScript(label, path string) (passdb, error)
}

// Handler serves /api/v1/auth/{nginx,header,json}.
type Handler struct {
	cfg      config.Nginx
	passdbs  []passdb
	cache    *positiveCache
	filters  filterRunner
	health   health.Source
	policy   policy
	resolver resolver
	// nginxPorts keeps implicit-TLS ports out of nginx answers.
	nginxPorts *nginxPorts
	log        *slog.Logger
	metrics    *metrics
	now        func() time.Time

	// policyLabel is "policy:<name>", the selected_by of a policy choice.
	policyLabel string
	// headers are the request header names (auth.request.headers);
	// hidden are those Lua must not see (credentials).
	headers *requestHeaderSet
	hidden  *lua.HiddenHeaders
	// usesLua: filters or a Lua passdb run, so requests carry their HTTP
	// exchange for nauthilus_http_request/_response.
	usesLua bool
	// maxBody bounds the body an endpoint reads (auth.request.max_body_size).
	maxBody int64
	// hold remembers nginx logins held with WAIT; nil when
	// auth.nginx.no_backend_hold is off (nginx_hold.go).
	hold *holdTracker
}

// Outcomes of a request.
const (
	outcomeOK       = "ok"
	outcomeFail     = "fail"
	outcomeTempfail = "tempfail"
	outcomeInvalid  = "invalid"
)

// New builds the handler: it loads passwd-files and Lua password scripts
// now, so a broken database stops start-up rather than the first login.
func New(opts Options) (*Handler, error) {
	if opts.Config == nil {
		return nil, errors.New("auth: no configuration")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("auth: registering metrics: %w", err)
	}
	ac := opts.Config.Auth
	if opts.Lua != nil {
		if opts.filters == nil {
			opts.filters = luaFilters{engine: opts.Lua}
		}
		if opts.scripts == nil {
			opts.scripts = luaScripts{engine: opts.Lua}
		}
	}
	h := &Handler{
		cfg:        ac.Nginx,
		filters:    opts.filters,
		health:     opts.Health,
		policy:     newPolicy(ac.Nginx.EffectiveDefaultPolicy()),
		resolver:   netResolver{},
		nginxPorts: newNginxPorts(ac.Services.BackendHealthChecks.Targets, logger),
		log:        logger,
		metrics:    m,
		now:        time.Now,
		maxBody:    ac.Request.EffectiveMaxBodySize(),
		hold:       newHoldTracker(ac.Nginx.EffectiveNoBackendHold(), ac.Nginx.EffectiveNoBackendWait()),
	}
	h.policyLabel = "policy:" + h.policy.name()
	// The exchange costs a little per request: only when filters are
	// configured (or a test's fake runs them) or a Lua passdb (below).
	h.usesLua = len(opts.Config.Lua.Filters) > 0 || (opts.filters != nil && opts.Lua == nil)
	h.headers = newRequestHeaderSet(ac.Request.Headers)
	h.hidden = lua.NewHiddenHeaders(h.headers.password().name)
	if err := h.setupSticky(opts); err != nil {
		return nil, fmt.Errorf("auth: registering metrics: %w", err)
	}
	if ttl := ac.Cache.EffectiveTTL(); ttl > 0 {
		if h.cache, err = newCache(opts, ttl); err != nil {
			return nil, err
		}
	}
	for i, db := range ac.Passdb {
		label := db.Name
		if label == "" {
			label = fmt.Sprintf("%s#%d", db.Type, i)
		}
		path := fmt.Sprintf("auth.passdb[%d]", i)
		switch db.Type {
		case config.PassdbPasswdFile:
			f, err := newPasswdFile(label, db.Path, logger)
			if err != nil {
				// Config validation loaded the same file with the same
				// parser; it changed since. Same words, same key path.
				key := path + ".path"
				return nil, config.Errors{{Path: key, Line: opts.Config.Lines.Line(key), Msg: err.Error()}}
			}
			f.onReload = h.cache.clear
			h.passdbs = append(h.passdbs, f)
		case config.PassdbLua:
			if opts.scripts == nil {
				return nil, fmt.Errorf("%s: type lua needs the Lua engine, which is not running", path)
			}
			s, err := opts.scripts.newPasswordScript(label, db.ScriptPath)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			h.passdbs = append(h.passdbs, s)
			h.usesLua = true
		case config.PassdbBackendLogin:
			if opts.Checker == nil || opts.Health == nil {
				return nil, fmt.Errorf("%s: type backend_login needs the health checks", path)
			}
			h.passdbs = append(h.passdbs, &backendLogin{label: label, protocol: db.Protocol, health: opts.Health, checker: opts.Checker})
		default:
			return nil, fmt.Errorf("%s.type: unknown passdb type %q", path, db.Type)
		}
	}
	return h, nil
}

// Register adds the auth endpoints (GET and POST each) and explain.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, ep := range []struct {
		name string
		fn   http.HandlerFunc
	}{
		{"nginx", h.serveNginx},
		{"header", h.serveHeader},
		{"json", h.serveJSON},
	} {
		mux.HandleFunc("GET /api/v1/auth/"+ep.name, ep.fn)
		mux.HandleFunc("POST /api/v1/auth/"+ep.name, ep.fn)
	}
	mux.HandleFunc("POST /api/v1/explain", h.serveExplain)
}

// decision is the verdict for one request, before endpoint formatting.
type decision struct {
	outcome      string
	reason       string // for the log line only; never a credential
	account      string
	accountField string
	attributes   Attributes
	backend      int
	passdb       string
	cacheHit     bool
	// statusMessage overrides the failure text (Lua status_message_set).
	statusMessage string
	selectedHost  string
	selectedPort  int
	// noBackend marks a tempfail because no backend was healthy.
	noBackend bool
	// hold is the no_backend_hold verdict of an nginx tempfail ("" when
	// the login was not held): wait, expired or full.
	hold string
	// passdbLogs are the custom_log_add pairs of every Lua passdb that ran
	// for the request, in passdb order (filter logs are in filter).
	passdbLogs []any
	filter     *filterOutcome
	// sel is the settled backend selection of a successful request.
	sel *Selection
	// server and port are what nginx gets (set by the nginx endpoint).
	server string
	port   int
}

// decide runs the password check and the filters.
func (h *Handler) decide(ctx context.Context, req *Request, session string) *decision {
	d := &decision{}
	pr, err := h.checkPassword(ctx, req, d)
	if err != nil {
		d.outcome, d.reason = outcomeTempfail, err.Error()
		return d
	}
	d.account, d.accountField, d.attributes, d.backend, d.passdb = pr.Account, pr.AccountField, pr.Attributes, pr.Backend, pr.DB

	if h.filters != nil {
		out, err := h.filters.runFilters(ctx, filterRequest{
			Request: req, Session: session,
			Authenticated: pr.Authenticated, UserFound: pr.UserFound, Account: pr.Account,
			Snapshot: req.snap,
		})
		if err != nil {
			d.outcome, d.reason = outcomeTempfail, "lua filter: "+err.Error()
			return d
		}
		d.filter = out
		d.attributes = applyFilterAttributes(d.attributes, out)
		if out != nil {
			d.statusMessage = out.StatusMessage
			if out.Reject {
				d.outcome, d.reason = outcomeFail, "rejected by filter "+strings.Join(out.Rejected, ",")
				return d
			}
			d.selectedHost, d.selectedPort = out.SelectedHost, out.SelectedPort
		}
	}
	switch {
	// No-auth without a name is nginx's smtp_auth none (a relay, nobody to
	// look up); with a name it is a userdb lookup, answered by the passdbs.
	case req.NoAuth && (pr.UserFound || req.Username == ""), pr.Authenticated:
		d.outcome = outcomeOK
	case !pr.UserFound:
		d.outcome, d.reason = outcomeFail, "unknown user"
	default:
		d.outcome, d.reason = outcomeFail, "wrong password"
	}
	return d
}

// checkPassword asks the cache, then each database in order; the first
// that knows the user decides.
func (h *Handler) checkPassword(ctx context.Context, req *Request, d *decision) (passResult, error) {
	// A userdb lookup (?mode=no-auth) has no password: the cache, keyed by
	// the password, cannot answer it; each database says whether it knows
	// the user (file: listed; lua: the script's user_found; backend_login:
	// nobody, see its check).
	if req.NoAuth && req.Username == "" {
		return passResult{}, nil
	}
	useCache := h.cache.enabled() && !req.NoCache && !req.NoAuth
	var key cacheKey
	if useCache {
		key = h.cache.key(req.Username, req.Password, req.Protocol)
		if e, ok := h.cache.get(ctx, key); ok {
			h.metrics.cacheResult(true).Inc()
			d.cacheHit = true
			return passResult{
				UserFound: true, Authenticated: true, Account: e.account, AccountField: e.accountField,
				Attributes: e.attributes.clone(), Backend: backendLocalCache, DB: "cache",
			}, nil
		}
		h.metrics.cacheResult(false).Inc()
	}
	for _, db := range h.passdbs {
		res, err := db.check(ctx, req)
		// Every database that ran logs, the one that decided or not: a
		// lookup that passed a user on is part of the story too.
		d.passdbLogs = append(d.passdbLogs, res.LogFields...)
		if err != nil {
			return passResult{}, fmt.Errorf("passdb %s: %w", db.name(), err)
		}
		if !res.UserFound {
			continue
		}
		if res.Account == "" {
			res.Account = req.Username
		}
		if res.AccountField != "" {
			if res.Attributes == nil {
				res.Attributes = Attributes{}
			}
			if _, ok := res.Attributes[res.AccountField]; !ok {
				res.Attributes[res.AccountField] = []any{res.Account}
			}
		}
		if req.NoAuth {
			res.Authenticated = false
		}
		if res.Authenticated && useCache {
			h.cache.put(ctx, key, cacheEntry{account: res.Account, accountField: res.AccountField, attributes: res.Attributes.clone()}, req.Password)
		}
		return res, nil
	}
	return passResult{}, nil
}

// failureMessage is the Auth-Status text of a failure.
func (h *Handler) failureMessage(d *decision) string {
	if d.statusMessage != "" {
		return d.statusMessage
	}
	return h.cfg.EffectiveFailureMessage()
}

// authWait is Nauthilus's growing delay, int(wait_delay*tanh(0.03*attempt)),
// left out when it is 0 or the session has tried too often.
func (h *Handler) authWait(attempt int) int {
	if attempt > h.cfg.EffectiveMaxWaitAttempts() {
		return 0
	}
	return waitSeconds(h.cfg.EffectiveWaitDelay(), attempt)
}

// serve is the common frame of every endpoint: parse, decide, answer, count
// and log once.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, endpoint string,
	parse func() (*Request, error), answer func(context.Context, http.ResponseWriter, *Request, *decision, string)) {
	start := h.now()
	session := newSessionID(start)
	req, err := parse()
	if err != nil {
		if req != nil && refusedCredentials(err) {
			d := &decision{outcome: outcomeFail, reason: reasonText(err.Error())}
			h.answerRefusedCredentials(w, endpoint, req, d, session)
			h.finish(endpoint, req.Protocol, outcomeFail, start, session, loggableRefused(req), d)
			return
		}
		msg := h.answerInvalid(w, r, endpoint, session, err)
		h.finish(endpoint, "", outcomeInvalid, start, session, nil, nil, slog.String("error", msg))
		return
	}
	// net/http cancels r.Context() as soon as its background read sees EOF,
	// and a client that half-closes after its request (shutdown(SHUT_WR))
	// causes exactly that while it waits for the answer. So the run is not
	// tied to the connection: Lua's script_timeout, the probe timeouts and
	// the resolver bound it instead, and the answer is written whenever the
	// socket can still take it.
	ctx := context.WithoutCancel(r.Context())
	// One snapshot for the whole request: the password databases, the
	// filters and the selection see the same round.
	req.snap = h.snapshot()
	if h.usesLua {
		req.http = newExchange(r, req, h.hidden, h.maxBody)
	}
	if req.ListAccounts {
		d := &decision{}
		h.serveListAccounts(ctx, w, endpoint, req, session, d)
		h.finish(endpoint, req.Protocol, d.outcome, start, session, req, d)
		return
	}
	d := h.decide(ctx, req, session)
	h.withholdPassword(req, d, session)
	if d.outcome == outcomeOK {
		h.settleRequest(endpoint, req, d, session)
	}
	if req.http != nil {
		w = h.applyScriptResponse(w, endpoint, req.http, session)
	}
	answer(ctx, w, req, d, session)
	h.finish(endpoint, req.Protocol, d.outcome, start, session, req, d)
}

func (h *Handler) finish(endpoint, protocol, outcome string, start time.Time, session string, req *Request, d *decision, extra ...slog.Attr) {
	elapsed := h.now().Sub(start)
	series := h.metrics.request(endpoint, protocolLabel(protocol), outcome)
	series.requests.Inc()
	series.duration.Observe(elapsed.Seconds())
	if !h.requestLogEnabled() {
		return
	}
	ap := attrPool.Get().(*[]slog.Attr)
	defer func() {
		clear(*ap) // the line's strings are not kept past it
		if cap(*ap) <= 256 {
			*ap = (*ap)[:0]
			attrPool.Put(ap)
		}
	}()
	attrs := append((*ap)[:0],
		slog.String("session", session),
		slog.String("endpoint", endpoint),
		slog.String("outcome", outcome),
	)
	if req != nil {
		attrs = append(attrs,
			slog.String("user", req.Username),
			slog.String("protocol", req.Protocol),
			slog.String("client_ip", req.ClientIP),
		)
	}
	if d != nil {
		if d.reason != "" {
			attrs = append(attrs, slog.String("reason", d.reason))
		}
		if d.passdb != "" {
			attrs = append(attrs, slog.String("passdb", d.passdb))
		}
		attrs = append(attrs, slog.Bool("cache_hit", d.cacheHit))
		if d.server != "" {
			attrs = append(attrs, slog.String("backend", joinHostPort(d.server, d.port)))
		}
		if d.hold != "" {
			attrs = append(attrs, slog.String("hold", d.hold))
		}
		if d.sel != nil && d.sel.SelectedBy != "" {
			attrs = append(attrs, slog.String("selected_by", d.sel.SelectedBy))
			if d.sel.Panic {
				attrs = append(attrs, slog.Bool("panic", true))
			}
			if d.sel.Backup {
				attrs = append(attrs, slog.Bool("backup", true))
			}
		}
		// Passdb entries first, then the filters': the order they ran in.
		attrs = appendLuaLogFields(attrs, d.passdbLogs)
		if f := d.filter; f != nil {
			if len(f.Results) > 0 {
				attrs = append(attrs, slog.String("filter_results", strings.Join(f.Results, ",")))
			}
			if len(f.Rejected) > 0 {
				attrs = append(attrs, slog.String("rejected_filters", strings.Join(f.Rejected, ",")))
			}
			attrs = appendLuaLogFields(attrs, f.LogFields)
		}
	}
	attrs = append(attrs, extra...)
	attrs = append(attrs, slog.Duration("latency", elapsed))
	h.logRequestLine("auth request", attrs)
	*ap = attrs
}

// appendLuaLogFields adds custom_log_add pairs as lua_<key> attributes,
// each key once: a key already on the line (from another passdb, a passdb
// and a filter, or two keys withholdPassword turned into "redacted")
// keeps its place and takes the later value, the rule a script's own
// repeated key follows (internal/lua/run_logs.go); the runs'
// log_fields_dropped counts add up. slog writes whatever it is given, and
// a JSON object with a key twice is read differently by each consumer
// (Elasticsearch refuses the document, others keep the first or the
// last). The scan is linear: a run keeps at most 64 keys.
func appendLuaLogFields(attrs []slog.Attr, fields []any) []slog.Attr {
	for i := 0; i+1 < len(fields); i += 2 {
		k, ok := fields[i].(string)
		if !ok {
			continue
		}
		key, v := "lua_"+k, fields[i+1]
		j := len(attrs) - 1
		for j >= 0 && attrs[j].Key != key {
			j--
		}
		if j < 0 {
			attrs = append(attrs, slog.Any(key, v))
		} else {
			attrs[j] = slog.Any(key, lua.MergeLogValue(k, attrs[j].Value.Any(), v))
		}
	}
	return attrs
}

// attrPool holds the request line's attribute lists: the line is written
// (or copied by slog) before finish returns, so the list can be reused.
var attrPool = sync.Pool{New: func() any { a := make([]slog.Attr, 0, 24); return &a }}

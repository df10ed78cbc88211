package lua

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	glua "github.com/yuin/gopher-lua"
)

// nauthilus_prometheus (spec nauthilus-lua-modules §4.3): metric vectors
// that scripts create and use by name, exported on backline's /metrics
// without a prefix. They live on the Host, so they and their series survive
// a reload; creating a name again is a silent no-op (first definition wins).
//
// Bounds (differences from Nauthilus, which has none):
//   - at most maxLuaMetricVecs vectors; creating more raises;
//   - at most maxLuaMetricSeries label combinations per vector and
//     maxLuaMetricSeriesTotal over all vectors; the use of a further one is
//     dropped (the call does nothing) and counted in
//     backline_lua_metric_series_dropped_total{metric=...};
//   - a label value longer than maxLuaLabelValue bytes or not UTF-8 (the
//     registry refuses it) is dropped the same way, so request data used
//     as a label never fails the request;
//   - the request's password (and the targets' test passwords) in a label
//     value is replaced by <redacted>;
//   - names must be valid Prometheus names and must not start with
//     backline_, go_, process_ or promhttp_ (backline's own metrics).

const (
	maxLuaMetricVecs   = 1000
	maxLuaMetricSeries = 1000
	// maxLuaMetricSeriesTotal bounds the series of all vectors together
	// (1000 vectors of 1000 series with long label values would be a GiB).
	maxLuaMetricSeriesTotal = 50000
	maxLuaLabelValue        = 1024
	maxLuaMetricWarn        = 1000 // unknown names warned about, then quiet
	luaHistogramBuckets     = 15
	// Bounds of a vector's definition (Prometheus itself has none).
	maxLuaMetricName   = 256
	maxLuaMetricHelp   = 4096
	maxLuaMetricLabels = 32
)

var (
	metricNameRE  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	reservedNames = []string{"backline_", "go_", "process_", "promhttp_"}
)

type metricKind string

const (
	kindCounter   metricKind = "counter"
	kindGauge     metricKind = "gauge"
	kindHistogram metricKind = "histogram"
	kindSummary   metricKind = "summary"
)

// luaMetrics is the Host's set of script-defined vectors.
type luaMetrics struct {
	reg     prometheus.Registerer
	dropped *prometheus.CounterVec

	mu     sync.Mutex
	vecs   map[string]*luaVec
	warned map[string]bool
	// total is the number of series of all vectors.
	total int
}

type luaVec struct {
	name   string
	kind   metricKind
	labels []string
	vec    any // *prometheus.CounterVec, GaugeVec, HistogramVec, SummaryVec
	// series are the label combinations seen (joined values).
	series map[string]bool
}

func (h *Host) metrics() *luaMetrics {
	return hostValue(h, "nauthilus_prometheus", func() *luaMetrics {
		reg := h.Registerer
		if reg == nil {
			reg = prometheus.NewRegistry()
		}
		m := &luaMetrics{reg: reg, vecs: map[string]*luaVec{}, warned: map[string]bool{}}
		m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backline_lua_metric_series_dropped_total",
			Help: "Uses of a nauthilus_prometheus vector dropped because it already had " +
				fmt.Sprint(maxLuaMetricSeries) + " label combinations or a label value was too long.",
		}, []string{"metric"})
		if err := reg.Register(m.dropped); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				m.dropped = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
		return m
	})
}

// create registers a vector once; the same kind again is a no-op.
func (m *luaMetrics) create(kind metricKind, name, help string, labels []string) error {
	// The registry keeps these for the daemon's life and writes them on
	// every scrape: bounded, and copied (a Lua string may share a larger
	// one's bytes).
	switch {
	case len(name) > maxLuaMetricName:
		return fmt.Errorf("metric name too long (at most %d bytes)", maxLuaMetricName)
	case len(help) > maxLuaMetricHelp:
		return fmt.Errorf("help text of %q too long (at most %d bytes)", name, maxLuaMetricHelp)
	case len(labels) > maxLuaMetricLabels:
		return fmt.Errorf("too many label names for %q (at most %d)", name, maxLuaMetricLabels)
	}
	for _, l := range labels {
		if len(l) > maxLuaMetricName {
			return fmt.Errorf("label name of %q too long (at most %d bytes)", name, maxLuaMetricName)
		}
	}
	name, help = strings.Clone(name), strings.Clone(help)
	labels = append([]string(nil), labels...)
	for i := range labels {
		labels[i] = strings.Clone(labels[i])
	}
	if !metricNameRE.MatchString(name) {
		return fmt.Errorf("invalid metric name %q", name)
	}
	for _, p := range reservedNames {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("metric name %q is reserved (names starting with %s belong to backline)", name, p)
		}
	}
	seen := map[string]bool{}
	for _, l := range labels {
		if !labelNameRE.MatchString(l) || strings.HasPrefix(l, "__") {
			return fmt.Errorf("invalid label name %q", l)
		}
		if seen[l] {
			return fmt.Errorf("label name %q given twice", l)
		}
		seen[l] = true
	}
	if help == "" {
		help = name // the registry refuses an empty help text
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if have, ok := m.vecs[name]; ok {
		if have.kind != kind {
			return fmt.Errorf("metric %q already exists as a %s", name, have.kind)
		}
		return nil
	}
	if len(m.vecs) >= maxLuaMetricVecs {
		return fmt.Errorf("too many metric vectors (at most %d)", maxLuaMetricVecs)
	}
	var c prometheus.Collector
	switch kind {
	case kindCounter:
		c = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	case kindGauge:
		c = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	case kindHistogram:
		c = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help,
			Buckets: prometheus.ExponentialBuckets(0.001, 1.75, luaHistogramBuckets)}, labels)
	case kindSummary:
		c = prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: name, Help: help}, labels)
	}
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("metric %q cannot be registered: %v", name, err)
	}
	m.vecs[name] = &luaVec{name: name, kind: kind, labels: append([]string(nil), labels...), vec: c, series: map[string]bool{}}
	return nil
}

// metricUse is the outcome of looking up a series for a use function.
type metricUse int

const (
	useOK metricUse = iota
	useUnknown
	useDropped
)

// series returns the vector's child for labels: unknown names and dropped
// series give nil. A label set that does not match raises (err).
func (m *luaMetrics) series(kind metricKind, name string, labels map[string]string) (any, metricUse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.vecs[name]
	if !ok || v.kind != kind {
		return nil, useUnknown, nil
	}
	if len(labels) != len(v.labels) {
		return nil, useOK, fmt.Errorf("metric %q has labels %v, got %v", name, v.labels, sortedKeys(labels))
	}
	values := make([]string, len(v.labels))
	for i, l := range v.labels {
		val, ok := labels[l]
		if !ok {
			return nil, useOK, fmt.Errorf("metric %q has labels %v, got %v", name, v.labels, sortedKeys(labels))
		}
		if len(val) > maxLuaLabelValue || !utf8.ValidString(val) {
			m.dropped.WithLabelValues(name).Inc()
			return nil, useDropped, nil
		}
		values[i] = val
	}
	key := strings.Join(values, "\xff")
	isNew := !v.series[key]
	if isNew && (len(v.series) >= maxLuaMetricSeries || m.total >= maxLuaMetricSeriesTotal) {
		m.dropped.WithLabelValues(name).Inc()
		return nil, useDropped, nil
	}
	if isNew {
		// The registry keeps a new series' values: copies, as a Lua string
		// may share the bytes of a far larger one.
		for i := range values {
			values[i] = strings.Clone(values[i])
		}
	}
	var child any
	var err error
	switch vec := v.vec.(type) {
	case *prometheus.CounterVec:
		child, err = vec.GetMetricWithLabelValues(values...)
	case *prometheus.GaugeVec:
		child, err = vec.GetMetricWithLabelValues(values...)
	case *prometheus.HistogramVec:
		child, err = vec.GetMetricWithLabelValues(values...)
	case *prometheus.SummaryVec:
		child, err = vec.GetMetricWithLabelValues(values...)
	}
	if err != nil {
		return nil, useOK, fmt.Errorf("metric %q: %v", name, err)
	}
	if isNew {
		v.series[strings.Clone(key)] = true // Join of one value is that value
		m.total++
	}
	return child, useOK, nil
}

// warnUnknown logs once per kind and name that a script used an unknown
// metric (Nauthilus does the same); the set of names warned about is bounded.
func (m *luaMetrics) warnUnknown(r *scriptRun, kind metricKind, name string) {
	// The name is any string the script passed (only created names are
	// checked): cut it before it is kept for the daemon's life or logged.
	// A copy: a cut string would still pin the whole argument.
	name = strings.Clone(truncateText(name, 128))
	m.mu.Lock()
	key := string(kind) + "\x00" + name
	first := !m.warned[key] && len(m.warned) < maxLuaMetricWarn
	if first {
		m.warned[key] = true
	}
	m.mu.Unlock()
	if first {
		r.engine.logger.Warn("nauthilus_prometheus: unknown metric, call ignored", "script", r.script.name,
			"kind", string(kind), "metric", r.redact(name))
	}
}

// labelsArg reads a labels map; keys and values become strings. nil or
// absent is no labels.
func labelsArg(L *glua.LState, n int) map[string]string {
	out := map[string]string{}
	switch x := L.Get(n).(type) {
	case *glua.LNilType:
	case *glua.LTable:
		x.ForEach(func(k, v glua.LValue) {
			out[luaText(k)] = luaText(v)
		})
	default:
		L.ArgError(n, "labels must be a table")
	}
	return out
}

func luaText(v glua.LValue) string {
	if s, ok := v.(glua.LString); ok {
		return string(s)
	}
	return v.String()
}

func labelNamesArg(L *glua.LState, n int) []string {
	switch x := L.Get(n).(type) {
	case *glua.LNilType:
		return nil
	case *glua.LTable:
		var out []string
		for i := 1; i <= x.Len(); i++ {
			s, ok := x.RawGetInt(i).(glua.LString)
			if !ok {
				L.ArgError(n, "label names must be strings")
			}
			out = append(out, string(s))
		}
		count := 0
		x.ForEach(func(glua.LValue, glua.LValue) { count++ })
		if count != len(out) {
			L.ArgError(n, "label names must be a list of strings")
		}
		return out
	default:
		L.ArgError(n, "label names must be a list of strings")
		return nil
	}
}

func createFunc(kind metricKind) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		// Scrubbed like label values: /metrics shows names and help too (a
		// scrubbed name or label name is then refused as invalid).
		name := r.redact(L.CheckString(1))
		help := r.redact(L.OptString(2, ""))
		labels := labelNamesArg(L, 3)
		for i := range labels {
			labels[i] = r.redact(labels[i])
		}
		if err := r.engine.host.metrics().create(kind, name, help, labels); err != nil {
			L.RaiseError("nauthilus_prometheus.create_%s_vec: %v", kind, r.redact(err.Error()))
		}
		return 0
	}
}

// useFunc looks the series up; with nil the call is a no-op.
func useSeries(r *scriptRun, L *glua.LState, kind metricKind, fn string, labelArg int) any {
	name := L.CheckString(1)
	m := r.engine.host.metrics()
	labels := labelsArg(L, labelArg)
	for k, v := range labels {
		labels[k] = r.redact(v) // the request's password never reaches /metrics
	}
	child, use, err := m.series(kind, name, labels)
	if err != nil {
		L.RaiseError("nauthilus_prometheus.%s: %v", fn, r.redact(err.Error()))
	}
	if use == useUnknown {
		m.warnUnknown(r, kind, name)
	}
	return child
}

func counterFunc(fn string, add float64) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		if c, ok := useSeries(r, L, kindCounter, fn, 2).(prometheus.Counter); ok {
			c.Add(add)
		}
		return 0
	}
}

func gaugeStep(fn string, delta float64) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		if g, ok := useSeries(r, L, kindGauge, fn, 2).(prometheus.Gauge); ok {
			g.Add(delta)
		}
		return 0
	}
}

// gaugeValue is add_gauge, sub_gauge, set_gauge: (name, value, labels).
func gaugeValue(fn string, apply func(g prometheus.Gauge, v float64)) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		value := float64(L.CheckNumber(2))
		if g, ok := useSeries(r, L, kindGauge, fn, 3).(prometheus.Gauge); ok {
			apply(g, value)
		}
		return 0
	}
}

// luaTimer is what start_*_timer returns and stop_timer takes.
type luaTimer struct {
	observer prometheus.Observer
	start    time.Time
	stopped  bool
}

func timerFunc(kind metricKind, fn string) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		o, ok := useSeries(r, L, kind, fn, 2).(prometheus.Observer)
		if !ok {
			return 0 // Nauthilus returns nothing here: stop_timer(nil) raises
		}
		ud := L.NewUserData()
		ud.Value = &luaTimer{observer: o, start: time.Now()}
		L.Push(ud)
		L.Push(glua.LNil)
		return 2
	}
}

func stopTimer(_ *scriptRun, L *glua.LState) int {
	ud, ok := L.Get(1).(*glua.LUserData)
	var t *luaTimer
	if ok {
		t, ok = ud.Value.(*luaTimer)
	}
	if !ok {
		L.ArgError(1, "timer expected, got "+L.Get(1).Type().String())
	}
	if !t.stopped { // a second stop records nothing
		t.stopped = true
		t.observer.Observe(time.Since(t.start).Seconds())
	}
	return 0
}

var prometheusFunctions = map[string]runFunc{
	"create_counter_vec":    createFunc(kindCounter),
	"create_gauge_vec":      createFunc(kindGauge),
	"create_histogram_vec":  createFunc(kindHistogram),
	"create_summary_vec":    createFunc(kindSummary),
	"increment_counter":     counterFunc("increment_counter", 1),
	"touch_counter":         counterFunc("touch_counter", 0),
	"increment_gauge":       gaugeStep("increment_gauge", 1),
	"decrement_gauge":       gaugeStep("decrement_gauge", -1),
	"add_gauge":             gaugeValue("add_gauge", func(g prometheus.Gauge, v float64) { g.Add(v) }),
	"sub_gauge":             gaugeValue("sub_gauge", func(g prometheus.Gauge, v float64) { g.Sub(v) }),
	"set_gauge":             gaugeValue("set_gauge", func(g prometheus.Gauge, v float64) { g.Set(v) }),
	"start_histogram_timer": timerFunc(kindHistogram, "start_histogram_timer"),
	"start_summary_timer":   timerFunc(kindSummary, "start_summary_timer"),
	"stop_timer":            stopTimer,
}

// luaMetricNames lists the vectors, for tests and status output.
func (m *luaMetrics) names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.vecs))
	for n := range m.vecs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// prometheusEffects: in a dry run (dryrun.go) nothing is created or
// observed and no series appears on /metrics. The timers returned are
// inert: stop_timer accepts them and records nothing.
var prometheusEffects = map[string]runFunc{
	"create_counter_vec":    dryReturns(),
	"create_gauge_vec":      dryReturns(),
	"create_histogram_vec":  dryReturns(),
	"create_summary_vec":    dryReturns(),
	"increment_counter":     dryReturns(),
	"touch_counter":         dryReturns(),
	"increment_gauge":       dryReturns(),
	"decrement_gauge":       dryReturns(),
	"add_gauge":             dryReturns(),
	"sub_gauge":             dryReturns(),
	"set_gauge":             dryReturns(),
	"start_histogram_timer": dryTimer,
	"start_summary_timer":   dryTimer,
}

func dryTimer(_ *scriptRun, L *glua.LState) int {
	L.CheckString(1)
	ud := L.NewUserData()
	ud.Value = &luaTimer{stopped: true}
	L.Push(ud)
	L.Push(glua.LNil)
	return 2
}

func init() {
	markEffects("nauthilus_prometheus", prometheusFunctions, prometheusEffects)
	registerModule(module{
		Name:      "nauthilus_prometheus",
		Filter:    true,
		Password:  true,
		Functions: prometheusFunctions,
	})
}

package lua

import (
	"context"
	"fmt"
	"maps"
	"net/http"

	glua "github.com/yuin/gopher-lua"
)

// FilterOutcome is the merged result of all filters of one request, in
// config order regardless of which finished first (contract §1.6).
type FilterOutcome struct {
	// Reject is the OR of every filter's action.
	Reject bool
	// Selected is the last select_backend_server in config order, nil if none.
	// Nauthilus does not use it when Reject is set.
	Selected *Selection
	// SelectedBy names the filter whose selection is Selected.
	SelectedBy string
	// Attributes from apply_backend_result, later filters winning on a key.
	// Values are string, float64, bool, []any or map[string]any.
	Attributes map[string]any
	// Remove is the union of remove_from_backend_result lists.
	Remove []string
	// Groups is the union of the applied results' groups.
	Groups []string
	// GroupDNs is the union of the applied results' group_dns.
	GroupDNs []string
	// ResponseHeaders and ResponseStatus are what the filters set with
	// nauthilus_http_response; only RunOffline fills them (package auth
	// reads the request's HTTPExchange).
	ResponseHeaders http.Header
	ResponseStatus  int
	// StatusMessage is the first one set (in config order), "" if none.
	StatusMessage string
	// Logs are the custom_log_add entries in config order, each key once:
	// a key a later filter adds again keeps its place and takes the later
	// value (run_logs.go).
	Logs []LogField
	// Results are "name:ok", "name:fail" or "name:unknown(N)" per filter.
	Results []string
	// Rejected names the filters that rejected.
	Rejected []string
	// Suppressed are the side effects a dry run skipped, as
	// "filter: module.function" (empty unless Request.DryRun).
	Suppressed []string
}

// ApplyTo is the Nauthilus rule for the final attribute set: removals first,
// then each Lua attribute only if the password backend did not provide it.
// A filter therefore overrides a backend attribute only by also removing it.
func (o *FilterOutcome) ApplyTo(attrs map[string]any) {
	for _, k := range o.Remove {
		delete(attrs, k)
	}
	for k, v := range o.Attributes {
		if _, ok := attrs[k]; !ok {
			attrs[k] = v
		}
	}
}

var filterEntries = []string{"nauthilus_call_filter", "nauthilus_call_subject"}

// RunFilters runs every filter for the request's mode in parallel, each on
// its own state (parallel.go). Any failure is an error for the whole step (tempfail); the
// other filters are cancelled.
func (e *Engine) RunFilters(ctx context.Context, req *Request) (*FilterOutcome, error) {
	scripts := e.filtersFor(req)
	runs := make([]*filterRun, len(scripts))
	req.context()
	if len(scripts) == 1 {
		runs[0] = e.runFilter(ctx, scripts[0], req)
		if runs[0].err != nil {
			return nil, withSuppressed(runs[0].err, runs)
		}
		mergeFilterContexts(req, runs)
		return merge(runs), nil
	}

	if len(scripts) == 0 {
		return merge(nil), nil
	}
	runs, err := e.runParallel(ctx, scripts, req)
	if err != nil {
		return nil, withSuppressed(err, runs)
	}
	mergeFilterContexts(req, runs)
	return merge(runs), nil
}

// FilterError is a failed filter step of a dry run that had skipped side
// effects before it failed: explain lists them with its tempfail answer.
type FilterError struct {
	Err error
	// Suppressed is as FilterOutcome.Suppressed, from the filters that
	// ended (an abandoned run's list is still being written).
	Suppressed []string
}

func (e *FilterError) Error() string { return e.Err.Error() }
func (e *FilterError) Unwrap() error { return e.Err }

// withSuppressed wraps err in a FilterError when the runs that ended had
// suppressed anything; otherwise it returns err as it is.
func withSuppressed(err error, runs []*filterRun) error {
	if s := mergeSuppressed(runs); len(s) > 0 {
		return &FilterError{Err: err, Suppressed: s}
	}
	return err
}

// filterRun is one filter's contribution before merging.
type filterRun struct {
	name   string
	run    *scriptRun
	reject bool
	code   int
	err    error
}

func (e *Engine) runFilter(ctx context.Context, s *script, req *Request) *filterRun {
	r, action, code, err := e.runScript(ctx, s, kindFilter, req, filterEntries)
	if err != nil {
		// r (when the run ended rather than being abandoned) still tells
		// what a dry run skipped before the failure.
		return &filterRun{name: s.name, run: r, err: err}
	}
	return &filterRun{name: s.name, run: r, reject: glua.LVAsBool(action), code: resultCode(code)}
}

func merge(runs []*filterRun) *FilterOutcome {
	out := &FilterOutcome{Attributes: map[string]any{}, Results: make([]string, 0, len(runs))}
	var removed map[string]bool
	for _, fr := range runs {
		r := fr.run
		out.Results = append(out.Results, r.script.result(fr.code))
		if fr.reject {
			out.Reject = true
			out.Rejected = append(out.Rejected, fr.name)
		}
		maps.Copy(out.Attributes, r.attributes)
		for _, k := range r.remove {
			if removed == nil {
				removed = map[string]bool{}
			}
			if !removed[k] {
				removed[k] = true
				out.Remove = append(out.Remove, k)
			}
		}
		out.Groups = mergeGroups(out.Groups, r.groups)
		out.GroupDNs = mergeGroups(out.GroupDNs, r.groupDNs)
		if r.selected != nil {
			sel := *r.selected
			out.Selected, out.SelectedBy = &sel, fr.name
		}
		if out.StatusMessage == "" && r.statusSet {
			out.StatusMessage = r.statusMessage
		}
		out.Logs = mergeLogFields(out.Logs, r.logs)
	}
	out.Suppressed = mergeSuppressed(runs)
	if len(out.Groups) == 0 {
		out.Groups = nil
	}
	if len(out.GroupDNs) == 0 {
		out.GroupDNs = nil
	}
	return out
}

// result is "name:ok", "name:fail" or "name:unknown(N)"; the first two
// are made once per script.
func (s *script) result(code int) string {
	switch code {
	case 0:
		return s.resultOK
	case 1:
		return s.resultFail
	}
	return s.name + ":" + codeName(code)
}

func codeName(code int) string {
	switch code {
	case 0:
		return "ok"
	case 1:
		return "fail"
	}
	return fmt.Sprintf("unknown(%d)", code)
}

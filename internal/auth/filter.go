package auth

import (
	"context"

	"github.com/backline/backline/internal/health"
)

// filterOutcome is the merged result of the Lua filters, in the handler's
// own terms so the pipeline does not depend on the engine's types.
type filterOutcome struct {
	Reject       bool
	SelectedHost string
	SelectedPort int
	// SelectedBy names the filter that selected the backend.
	SelectedBy    string
	Attributes    map[string]any
	Remove        []string
	StatusMessage string
	// LogFields are custom_log_add pairs, appended to the request log line.
	LogFields []any
	Results   []string
	Rejected  []string
	// Suppressed are the side effects a dry run (explain) skipped, as
	// "filter: module.function".
	Suppressed []string
}

// filterRunner runs the configured filters for one request; an error means
// tempfail.
type filterRunner interface {
	runFilters(ctx context.Context, fr filterRequest) (*filterOutcome, error)
}

// filterRequest is what a filter sees besides the parsed request.
type filterRequest struct {
	*Request
	Session       string
	Authenticated bool
	UserFound     bool
	Account       string
	// Snapshot is the request's pinned health snapshot: the filters' server
	// lists and the selection read the same round.
	Snapshot *health.Snapshot
	// DryRun marks an explain run: the filters' module functions with an
	// effect outside the run are not performed (lua.Request.DryRun).
	DryRun bool
}

// applyFilterAttributes merges filter attributes into the password
// database's (contract §1.6): removals first, then each Lua attribute only
// if absent, stored as a one-element list.
func applyFilterAttributes(attrs Attributes, out *filterOutcome) Attributes {
	if out == nil || (len(out.Remove) == 0 && len(out.Attributes) == 0) {
		return attrs
	}
	if attrs == nil {
		attrs = Attributes{}
	}
	for _, name := range out.Remove {
		delete(attrs, name)
	}
	for k, v := range out.Attributes {
		if _, present := attrs[k]; !present {
			attrs[k] = []any{v}
		}
	}
	return attrs
}

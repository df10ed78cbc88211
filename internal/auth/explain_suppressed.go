package auth

import (
	"errors"
	"regexp"
	"slices"

	"github.com/backline/backline/internal/lua"
)

// dryRunRefusalPattern finds, in a failed dry run's error, the module
// function the dry run did not run: its stand-in answers
// "<module.function>: not run in a dry run (explain)", either as the error
// value the script then raised or as the raised error itself (package
// lua, dryrun.go; TestExplainListsTheSkippedCallOfAFailedFilter breaks if
// the wording changes).
var dryRunRefusalPattern = regexp.MustCompile(`([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*): not run in a dry run \(explain\)`)

// suppressedByError lists what a failed dry run skipped, as
// "filter: module.function": the engine's FilterError carries the lists of
// the filters that ended (the call the filter tripped over among them).
// Without one (an engine error before any filter ran), the skipped call is
// found in the error text, if the filter raised with it.
func suppressedByError(err error) []string {
	if fe, ok := errors.AsType[*lua.FilterError](err); ok {
		return fe.Suppressed
	}
	var se *lua.ScriptError
	if !errors.As(err, &se) {
		return []string{}
	}
	out := []string{}
	for _, m := range dryRunRefusalPattern.FindAllStringSubmatch(se.Msg, 4) {
		name := se.Script + ": " + m[1]
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

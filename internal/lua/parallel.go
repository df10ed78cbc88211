package lua

import (
	"context"
	"errors"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// runParallel runs every filter at once, each on its own state, handing
// the runs to the states' goroutines itself and collecting the results on
// one channel; the states' goroutines release the states (a caller that
// held them while waiting for another state could deadlock a small pool).
// A goroutine per filter that then handed its run on to a
// state cost about a third of a filter's instructions
// (BenchmarkRunFilters5).
//
// The runs share one deadline and one cancellation: the first failure, or
// a run stopped for memory, stops the others. Of several errors the first
// that is not a mere cancellation is returned, so a sibling stopped by the
// real cause never hides it. Runs still inside a native call abandonGrace
// after the end are abandoned as in runScript.
func (e *Engine) runParallel(parent context.Context, scripts []*script, req *Request) ([]*filterRun, error) {
	ctx, cancel := context.WithTimeout(parent, e.timeout)
	defer cancel()
	results := make(chan jobResult, len(scripts))
	out := make([]*filterRun, len(scripts))
	runs := make([]*scriptRun, 0, len(scripts))
	var errs firstError
	for i, s := range scripts {
		r := newRun(ctx, e, s, kindFilter, req)
		r.cancel, r.entries, r.done, r.index, r.releaseHere = cancel, filterEntries, results, i, true
		v, err := e.pool.acquire(ctx)
		if err != nil {
			errs.add(r.failure(waitingForState+": "+err.Error(), ""))
			cancel()
			break
		}
		r.state = v
		e.inflight.Add(1)
		v.jobs <- r
		runs = append(runs, r)
	}

	received := make([]bool, len(scripts))
	waiting := len(runs)
	receive := func(res jobResult) {
		r := res.run
		received[r.index] = true
		waiting--
		if res.err != nil {
			errs.add(res.err)
			cancel()
			// The run ended: its list of skipped side effects is final.
			out[r.index] = &filterRun{name: r.script.name, run: r, err: res.err}
			return
		}
		out[r.index] = &filterRun{name: r.script.name, run: r, reject: glua.LVAsBool(res.ret1), code: resultCode(res.ret2)}
	}
	for waiting > 0 && ctx.Err() == nil {
		select {
		case res := <-results:
			receive(res)
		case <-ctx.Done():
		}
	}
	if waiting > 0 {
		grace := time.NewTimer(e.abandonGrace)
		defer grace.Stop()
	wait:
		for waiting > 0 {
			select {
			case res := <-results:
				receive(res)
			case <-grace.C:
				break wait
			}
		}
	}
	late := 0
	for _, r := range runs {
		if received[r.index] {
			continue
		}
		if r.phase.CompareAndSwap(runActive, runAbandoned) {
			e.abandoned.Add(1)
			e.abandonedRunning.Add(1)
			errs.add(r.abandon())
		} else {
			late++ // it ended just now; its result is on the way
		}
	}
	for range late {
		receive(<-results)
	}
	return out, errs.err
}

// firstError keeps the first error that is not a cancellation, else the
// first error.
type firstError struct{ err error }

func (f *firstError) add(err error) {
	if f.err == nil || isCancellation(f.err) && !isCancellation(err) {
		f.err = err
	}
}

func isCancellation(err error) bool {
	var se *ScriptError
	return errors.As(err, &se) && se.Canceled
}

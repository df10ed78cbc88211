package lua

import (
	"math"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// time: the gopher-lua-libs module as Nauthilus scripts use it, written
// from its public README (require("time"); not a global):
//
//	time.unix()                      seconds since the epoch, with fraction
//	time.unix_nano()                 nanoseconds since the epoch
//	time.sleep(seconds)              fractions allowed
//	time.parse(value, layout)        unix seconds, or nil and an error
//	time.format(ts [, layout [, location]]) string, or nil and an error
//
// Layouts are Go's reference-time layouts ("2006-01-02T15:04:05Z07:00").
// Differences: time.sleep ends with a Lua error when the run's
// script_timeout (or the request) ends first, instead of blocking the
// state past it; format's defaults are RFC 3339 and UTC.

var timeFunctions = map[string]runFunc{
	"unix": func(_ *scriptRun, L *glua.LState) int {
		L.Push(glua.LNumber(float64(time.Now().UnixNano()) / 1e9))
		return 1
	},
	"unix_nano": func(_ *scriptRun, L *glua.LState) int {
		L.Push(glua.LNumber(time.Now().UnixNano()))
		return 1
	},
	"sleep": func(r *scriptRun, L *glua.LState) int {
		secs := float64(L.CheckNumber(1))
		if !(secs > 0) { // also NaN
			return 0
		}
		d := time.Duration(math.Min(secs, float64(math.MaxInt64/int64(time.Second))) * float64(time.Second))
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.ctx.Done():
			L.RaiseError("time.sleep: stopped: %v", runStopCause(r))
		}
		return 0
	},
	"parse": func(_ *scriptRun, L *glua.LState) int {
		value, layout := L.CheckString(1), L.CheckString(2)
		t, err := time.Parse(layout, value)
		if err != nil {
			L.Push(glua.LNil)
			L.Push(glua.LString(err.Error()))
			return 2
		}
		L.Push(glua.LNumber(float64(t.UnixNano()) / 1e9))
		return 1
	},
	"format": func(r *scriptRun, L *glua.LState) int {
		ts := float64(L.CheckNumber(1))
		layout := L.OptString(2, time.RFC3339)
		zone := L.OptString(3, "UTC")
		// A layout element expands to at most a few times its length
		// ("_2" → " 2", "Z07:00" → "+07:00", "Jan" → "Sep").
		r.state.charge(L, mulSat(int64(len(layout)), 4))
		loc, err := time.LoadLocation(zone)
		if err != nil {
			L.Push(glua.LNil)
			L.Push(glua.LString(err.Error()))
			return 2
		}
		if math.IsNaN(ts) || math.IsInf(ts, 0) || math.Abs(ts) > 1e15 {
			L.Push(glua.LNil)
			L.Push(glua.LString("time.format: timestamp out of range"))
			return 2
		}
		sec, frac := math.Modf(ts)
		L.Push(glua.LString(time.Unix(int64(sec), int64(frac*1e9)).In(loc).Format(layout)))
		return 1
	},
}

// runStopCause is why the run's context ended, for error texts.
func runStopCause(r *scriptRun) error {
	if err := r.cause(); err != nil {
		return err
	}
	return r.ctx.Err()
}

func init() {
	registerModule(module{
		Name:      "time",
		Filter:    true,
		Password:  true,
		Functions: timeFunctions,
		NotGlobal: true,
	})
}

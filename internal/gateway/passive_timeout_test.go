package gateway

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// Only a timeout can be this process's own doing when it was stalled, so
// only timeouts go to the stall-aware passive report; a refusal or a
// reset is the origin's answer.
func TestTimedOutTellsTimeoutsFromTheOriginsFailures(t *testing.T) {
	dialTimeout := &dialError{err: &os.SyscallError{Syscall: "connect", Err: os.ErrDeadlineExceeded}}
	for _, c := range []struct {
		gerr *gatewayError
		want bool
	}{
		{newError(kindTimeout, errors.New("the origin did not answer in time")), true},
		{newError(kindBackend, dialTimeout), true},
		{newError(kindBackend, &dialError{err: syscall.ECONNREFUSED}), false},
		{newError(kindBackend, errors.New("connection reset by peer")), false},
	} {
		if got := timedOut(c.gerr); got != c.want {
			t.Errorf("timedOut(%v) = %v, want %v", c.gerr.cause, got, c.want)
		}
	}
}

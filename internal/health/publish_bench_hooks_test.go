package health

import "time"

func benchLoop(e *Engine) *groupLoop { return e.gen.Load().loops[0] }

func benchPublish(e *Engine, l *groupLoop, now time.Time) {
	e.publish(l.gen, l.index, l.backends(), now)
}

// benchAdmin drains ten backends, as an operator might during maintenance.
func benchAdmin(e *Engine) {
	st := AdminDrain
	for i := range 10 {
		_, _ = e.SetAdmin(e.Snapshot().Backends[i].ID, AdminChange{State: &st})
	}
}

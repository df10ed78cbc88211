package health

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// backline_backend_draining is 1 for a drained backend that is otherwise
// eligible and 0 for the others, a drained one at weight 0 included.
func TestDrainingMetric(t *testing.T) {
	clock := &fakeClock{now: time.Unix(5000, 0)}
	reg := prometheus.NewPedanticRegistry()
	g := mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false), mailTarget("c", 3, false))
	e, err := New([]Group{g}, &scriptChecker{}, Options{Now: clock.Now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"a": 0, "b": 0, "c": 0} {
		if v := metricValue(t, reg, "backline_backend_draining", GroupMail, name); v != want {
			t.Errorf("before any drain, draining{%s} = %v", name, v)
		}
	}
	if _, err := e.SetAdmin("a", AdminChange{State: ptr(AdminDrain), Who: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAdmin("b", AdminChange{State: ptr(AdminDrain), Weight: ptr(0), Who: "alice"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"a": 1, "b": 0, "c": 0} {
		if v := metricValue(t, reg, "backline_backend_draining", GroupMail, name); v != want {
			t.Errorf("draining{%s} = %v, want %v", name, v, want)
		}
	}
	if v := metricValue(t, reg, "backline_backend_eligible", GroupMail, "a"); v != 0 {
		t.Errorf("eligible{a} = %v while draining", v)
	}
}

package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/server/statuspagefake"
)

// An origin ejected by passive health shows reason passive, when the
// ejection ends and how many there were.
func TestBackendViewPassiveEjection(t *testing.T) {
	until := time.Date(2026, 11, 23, 13, 0, 40, 0, time.FixedZone("x", 3600))
	b := health.Backend{ID: "gateway:api@http://127.0.0.1:8081", Group: "gateway:api", Healthy: true,
		Reason: health.ReasonPassive, EjectedUntil: until, Ejections: 2}
	out, err := json.Marshal(viewBackend(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"eligible":false`, `"reason":"passive"`, `"ejected_until":"2026-11-23T12:00:40Z"`, `"ejections":2`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %s in %s", want, out)
		}
	}
	plain, _ := json.Marshal(viewBackend(health.Backend{ID: "x"}))
	if strings.Contains(string(plain), "eject") {
		t.Errorf("never ejected backend shows ejection fields: %s", plain)
	}
}

func TestStatusPagePassiveRow(t *testing.T) {
	b := statuspagefake.Healthy(statuspagefake.Target("api@10.0.0.5:8080", "http", "10.0.0.5", 8080, true), "gateway:api", pageNow)
	b.Eligible, b.Reason = false, health.ReasonPassive
	b.EjectedUntil, b.Ejections = pageNow.Add(90*time.Second), 2
	row := buildRow(b, pageAdmin{State: "ready"}, pageNow)
	if row.State != "passive" || !row.Problem || !strings.HasSuffix(row.Detail, " ejected for 1m (ejection 2)") {
		t.Errorf("row: state %q problem %v detail %q", row.State, row.Problem, row.Detail)
	}
}

package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
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

package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/server/statuspagefake"
)

// The status API and page say which targets are backups; the API leaves
// the field out for the others, so existing consumers see no change.
func TestBackupFlagShown(t *testing.T) {
	b := statuspagefake.Healthy(statuspagefake.Target("imap-spare", "imap", "10.0.0.9", 143, false), health.GroupMail, pageNow)
	b.Backup = true
	out, err := json.Marshal(viewBackend(b))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"backup":true`) {
		t.Errorf("no backup flag in %s", out)
	}
	plain, _ := json.Marshal(viewBackend(health.Backend{ID: "x"}))
	if strings.Contains(string(plain), "backup") {
		t.Errorf("a primary shows the backup field: %s", plain)
	}
	row := buildRow(b, pageAdmin{State: "ready"}, pageNow)
	if row.State != "up" || !strings.HasSuffix(row.Detail, " backup") {
		t.Errorf("row: state %q detail %q", row.State, row.Detail)
	}
	// The page's filter finds backups (and TLS modes, deep checks) by
	// the words of the detail line.
	if !strings.Contains(row.Key, "backup") {
		t.Errorf("filter key %q lacks the detail line", row.Key)
	}
	b.Backup = false
	if row := buildRow(b, pageAdmin{State: "ready"}, pageNow); strings.Contains(row.Detail, "backup") {
		t.Errorf("primary row detail %q", row.Detail)
	}
}

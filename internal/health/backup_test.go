package health

import "testing"

// The backup flag reaches the snapshot, follows a reload, and a flag list
// of the wrong length is refused.
func TestBackupFlagInSnapshot(t *testing.T) {
	g := mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false))
	g.Backups = []bool{false, true}
	e, err := New([]Group{g}, &scriptChecker{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := findBackend(e.Snapshot(), "a")
	b, _ := findBackend(e.Snapshot(), "b")
	if a.Backup || !b.Backup || !b.Eligible {
		t.Fatalf("a backup %v, b backup %v eligible %v", a.Backup, b.Backup, b.Eligible)
	}
	g.Backups = []bool{true}
	if err := e.Reconfigure([]Group{g}); err == nil {
		t.Fatal("one flag for two targets accepted")
	}
	g.Backups = nil // reload without backups: none is one any more
	if err := e.Reconfigure([]Group{g}); err != nil {
		t.Fatal(err)
	}
	if b, _ := findBackend(e.Snapshot(), "b"); b.Backup {
		t.Error("the flag survived a reload that dropped it")
	}
}

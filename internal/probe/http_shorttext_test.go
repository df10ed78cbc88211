package probe

import (
	"strings"
	"testing"
)

// An expected text is cut in errors (they go to every failure log line),
// never in the middle of a character.
func TestShortText(t *testing.T) {
	if got := shortText("ok"); got != "ok" {
		t.Fatalf("short text changed: %q", got)
	}
	long := strings.Repeat("é", 100)
	got := shortText(long)
	if len(got) > 64+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Fatalf("shortText = %q", got)
	}
}

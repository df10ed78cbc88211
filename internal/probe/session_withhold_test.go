package probe

import "testing"

// withhold keeps the session's secrets longest first whatever order they
// come in (the password's forms, a tcp step's, a header's, a body's): a
// shorter secret inside a longer one must not cut the longer one apart
// and leave its rest in the transcript.
func TestWithholdKeepsLongestFirstAcrossSources(t *testing.T) {
	s := &session{}
	s.withhold("hunter2", "", redacted)
	s.withhold("token=hunter2-xyz", "hunter2")
	if len(s.secrets) != 2 {
		t.Fatalf("secrets %q: want the two distinct non-empty values", s.secrets)
	}
	if got := s.scrub("bad token=hunter2-xyz"); got != "bad "+redacted {
		t.Fatalf("scrub = %q, want the longer secret replaced whole", got)
	}
}

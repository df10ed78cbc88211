package procfloor

import "testing"

func TestFloor(t *testing.T) {
	for _, tc := range []struct {
		n    int
		env  string
		want int
	}{
		{1, "", 2},  // one CPU: two Ps
		{2, "", 2},  // already more than one
		{8, "", 8},  // left alone
		{1, "1", 1}, // the operator's choice stands
		{4, "4", 4},
	} {
		if got := floor(tc.n, tc.env); got != tc.want {
			t.Errorf("floor(%d, %q) = %d, want %d", tc.n, tc.env, got, tc.want)
		}
	}
}

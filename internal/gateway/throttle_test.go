package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

func TestThrottleLongestWaitWins(t *testing.T) {
	th := newThrottle("api", config.RateLimits{
		{Period: time.Second, PerPeriod: 1, PeriodWindow: "sliding", Mode: "wait"},
		{Period: time.Minute, PerPeriod: 1, PeriodWindow: "fixed", Mode: "wait"},
	}, nil, nil)
	t0 := time.Unix(1000, 0)
	th.now = func() time.Time { return t0 }
	if d, err := th.take(context.Background()); err != nil || !d.Allowed {
		t.Fatalf("first: %+v %v", d, err)
	}
	th.now = func() time.Time { return t0.Add(2 * time.Second) }
	d, err := th.take(context.Background())
	if err != nil || d.Allowed || d.Exhausted != 2 || d.RetryAfter != 58*time.Second {
		t.Fatalf("second: %+v %v", d, err)
	}
}

// A block rule that is exhausted refuses at once, even next to wait rules.
func TestThrottleMixedRulesBlock(t *testing.T) {
	th := newThrottle("api", config.RateLimits{
		{Period: time.Hour, PerPeriod: 1, PeriodWindow: "fixed", Mode: "block"},
		{Period: time.Minute, PerPeriod: 5, PeriodWindow: "sliding", Mode: "wait"},
	}, nil, nil)
	ctx := context.Background()
	if err := th.wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := th.wait(ctx); err != errThrottled {
		t.Fatalf("second: %v", err)
	}
}

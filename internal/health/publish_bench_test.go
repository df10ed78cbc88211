package health

import (
	"fmt"
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
)

// BenchmarkPublish measures what a round costs beyond its probes: copying
// the group's states into a part and publishing the merged snapshot (with
// admin state and eligibility applied to every entry).
// go test -run '^$' -bench Publish -benchmem ./internal/health
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, groups := range []int{1, 2} {
			b.Run(fmt.Sprintf("targets=%d/groups=%d", n, groups), func(b *testing.B) {
				targets := make([]*probe.Target, n)
				for i := range targets {
					targets[i] = mailTarget(fmt.Sprint("t", i), 1000+i%60000, i%2 == 0)
				}
				gs := []Group{mailGroup(targets...)}
				if groups == 2 {
					gs = append(gs, Group{Name: "gateway:web", ConnectInterval: time.Second, FailureThreshold: 1, RecoveryThreshold: 1,
						Targets: []*probe.Target{{Name: "web", Protocol: "http", Host: "127.0.0.1", Port: 80}}})
				}
				e, err := New(gs, &scriptChecker{}, Options{})
				if err != nil {
					b.Fatal(err)
				}
				benchAdmin(e)
				l := benchLoop(e)
				now := time.Now()
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					benchPublish(e, l, now)
				}
			})
		}
	}
}

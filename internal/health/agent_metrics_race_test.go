package health

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/backline/backline/internal/probe"
)

// A scrape while the agent is being queried never reads more failures
// than queries: an agent that only fails has 0 ok queries, whatever the
// scrape sees (it read 2^64-1 when a failure was counted between its two
// loads).
func TestAgentQueriesOKNeverWrapsDuringQueries(t *testing.T) {
	s := &targetState{}
	now := time.Unix(1_700_000_000, 0)
	s.agent.configure(&probe.Target{Host: "127.0.0.1", Agent: &probe.AgentCheck{Port: 1}}, now)
	descs := newAgentDescs()
	const queries = 20000
	var wg sync.WaitGroup
	wg.Go(func() {
		for range queries {
			s.agent.note(probe.AgentReply{}, errors.New("refused"), now)
		}
	})
	ch := make(chan prometheus.Metric, 16)
	for done := false; !done; {
		done = s.agent.failures.Load() >= queries
		b := &Backend{Group: "g", Agent: s.agent.view.Load()}
		go func() { descs.collect(ch, b, s, "a"); close(ch) }()
		for m := range ch {
			var pb dto.Metric
			if err := m.Write(&pb); err != nil {
				t.Fatal(err)
			}
			if pb.Counter == nil {
				continue
			}
			for _, l := range pb.Label {
				if l.GetName() == "result" && l.GetValue() == "ok" {
					if v := pb.Counter.GetValue(); v != 0 {
						t.Fatalf("ok queries %v (max uint64 %v) for an agent that only failed", v, float64(math.MaxUint64))
					}
				}
			}
		}
		ch = make(chan prometheus.Metric, 16)
	}
	wg.Wait()
}

package health

import (
	"math"
	"sort"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyHistogram is one target's probe-duration histogram in 136 bytes.
// Its group loop is the only writer; scrapes read it concurrently. Counts
// are per bucket (not cumulative) and the total is derived from them, so a
// scrape always sees a self-consistent histogram.
type latencyHistogram struct {
	counts  [16]atomic.Uint64 // len(probeBuckets) + the +Inf bucket
	sumBits atomic.Uint64     // float64 seconds
}

func init() {
	if len(probeBuckets)+1 != len(latencyHistogram{}.counts) {
		panic("health: latencyHistogram size does not match probeBuckets")
	}
}

func (h *latencyHistogram) observe(seconds float64) {
	h.counts[sort.SearchFloat64s(probeBuckets, seconds)].Add(1)
	// Single writer: load and store need no compare-and-swap.
	h.sumBits.Store(math.Float64bits(math.Float64frombits(h.sumBits.Load()) + seconds))
}

func (h *latencyHistogram) metric(desc *prometheus.Desc, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(probeBuckets))
	var total uint64
	for i, upper := range probeBuckets {
		total += h.counts[i].Load()
		buckets[upper] = total
	}
	total += h.counts[len(probeBuckets)].Load()
	return prometheus.MustNewConstHistogram(desc, total, math.Float64frombits(h.sumBits.Load()), buckets, labels...)
}

package benchstack

import (
	"math"
	"testing"
	"time"
)

// Since leaves what was observed between two snapshots; Quantile answers the bound of the bucket
// holding the rank, +Inf past the last bound.
func TestPhasesSinceAndQuantile(t *testing.T) {
	before := Phases{"start": {Count: 10, Sum: 0.1, Bounds: []float64{.001, .01, .1}, Cum: []uint64{10, 10, 10}}}
	after := Phases{"start": {Count: 110, Sum: 2.1, Bounds: []float64{.001, .01, .1}, Cum: []uint64{10, 60, 108}}}
	d := after.Since(before)["start"]
	if d.Count != 100 || d.Mean() != 20*time.Millisecond {
		t.Fatalf("count %d mean %v: want 100 and 20ms", d.Count, d.Mean())
	}
	if q := d.Quantile(0.5); q != 10*time.Millisecond {
		t.Errorf("p50 = %v, want the 10ms bound", q)
	}
	if q := d.Quantile(0.9); q != 100*time.Millisecond {
		t.Errorf("p90 = %v, want the 100ms bound", q)
	}
	if q := d.Quantile(0.99); q != time.Duration(math.MaxInt64) {
		t.Errorf("p99 = %v, want past the last bound", q)
	}
}

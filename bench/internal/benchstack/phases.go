package benchstack

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"smsflow/metrics"
)

// Phases is a snapshot of the API's accept-phase histogram (metrics.ActionAcceptPhase), by phase.
type Phases map[string]PhaseHistogram

// PhaseHistogram is one phase's cumulative histogram.
type PhaseHistogram struct {
	Count  uint64
	Sum    float64   // seconds
	Bounds []float64 // upper bounds, seconds
	Cum    []uint64  // observations at or below each bound
}

// ReadPhases snapshots the accept phases of this process's registry.
func ReadPhases() (Phases, error) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	out := Phases{}
	for _, f := range families {
		if f.GetName() != "smsflow_action_accept_phase_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			out[phaseLabel(m)] = fromProto(m.GetHistogram())
		}
	}
	return out, nil
}

func phaseLabel(m *dto.Metric) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == "phase" {
			return l.GetValue()
		}
	}
	return ""
}

func fromProto(h *dto.Histogram) PhaseHistogram {
	p := PhaseHistogram{Count: h.GetSampleCount(), Sum: h.GetSampleSum()}
	for _, b := range h.GetBucket() {
		p.Bounds = append(p.Bounds, b.GetUpperBound())
		p.Cum = append(p.Cum, b.GetCumulativeCount())
	}
	return p
}

// Since is what was observed between before and p.
func (p Phases) Since(before Phases) Phases {
	out := Phases{}
	for name, h := range p {
		b := before[name]
		d := PhaseHistogram{Count: h.Count - b.Count, Sum: h.Sum - b.Sum, Bounds: h.Bounds}
		for i, c := range h.Cum {
			if i < len(b.Cum) {
				c -= b.Cum[i]
			}
			d.Cum = append(d.Cum, c)
		}
		out[name] = d
	}
	return out
}

// Mean is the phase's average time.
func (h PhaseHistogram) Mean() time.Duration {
	if h.Count == 0 {
		return 0
	}
	return time.Duration(h.Sum / float64(h.Count) * float64(time.Second))
}

// Quantile is the upper bound of the bucket holding the q-th observation (+Inf past the last).
func (h PhaseHistogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.Count)))
	for i, c := range h.Cum {
		if c >= rank {
			return time.Duration(h.Bounds[i] * float64(time.Second))
		}
	}
	return time.Duration(math.MaxInt64)
}

// String is one line per phase, in the order an answer goes through them.
func (p Phases) String() string {
	order := map[string]int{"verify": 0, "validate": 1, "previous": 2, "start": 3}
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	var b strings.Builder
	for _, n := range names {
		h := p[n]
		q := h.Quantile(0.99)
		p99 := "> 1s"
		if q != time.Duration(math.MaxInt64) {
			p99 = "≤ " + q.String()
		}
		fmt.Fprintf(&b, "    %-9s n=%-6d mean %-10v p99 %s\n", n, h.Count, h.Mean().Round(10*time.Microsecond), p99)
	}
	return b.String()
}

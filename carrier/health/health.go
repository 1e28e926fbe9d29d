// Package health judges the carriers from what every worker records in PostgreSQL — how late
// their delivery reports come and how often their calls fail — and says how much of the traffic
// the primary carrier takes: all of it while healthy, a probing share while degraded (the rest
// goes to the secondary), and a share growing back to all of it once it recovers. The figures
// are read at most once per refresh interval per process, never per message.
package health

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"smsflow/metrics"
	"smsflow/store"
)

// Source reads a carrier's recent figures; *store.Store implements it.
type Source interface {
	CarrierStats(ctx context.Context, carrierName string, now time.Time, w store.CarrierWindow) (store.CarrierStats, error)
}

// State is a carrier's health.
type State int

// States, in the order of the smsflow_carrier_health gauge.
const (
	Healthy    State = iota // takes all of its traffic
	Recovering              // degraded a while ago, good again: its share grows back over Ramp
	Degraded                // slow reports or errors: takes only ProbeShare of its traffic
)

func (s State) String() string {
	switch s {
	case Recovering:
		return "recovering"
	case Degraded:
		return "degraded"
	}
	return "healthy"
}

// Thresholds say when a carrier is degraded and how traffic comes back to it.
type Thresholds struct {
	// SlowAfter: a final delivery report later than this after the carrier accepted the message
	// is slow (default 5 min).
	SlowAfter time.Duration
	// ReportWindow: the messages accepted in the last ReportWindow are judged (default 15 min).
	ReportWindow time.Duration
	// SlowShare of judged messages with slow reports degrades the carrier (default 0.15; a
	// negative value turns the rule off).
	SlowShare float64
	// ErrorWindow: calls of the last ErrorWindow count for the error rate (default 5 min).
	ErrorWindow time.Duration
	// ErrorShare of calls failing (temporary, rate-limited, uncertain) degrades the carrier
	// (default 0.2; negative: off).
	ErrorShare float64
	// MinSamples: fewer judged messages (or calls) than this decide nothing (default 20).
	MinSamples int
	// Sample: only the newest Sample attempts are read per refresh (default 1000).
	Sample int
	// ProbeShare of its traffic a degraded primary keeps, so that its recovery shows (default 0.1).
	ProbeShare float64
	// Ramp: a recovering primary's share grows from ProbeShare to all over Ramp (default 10 min).
	Ramp time.Duration
	// Refresh: the figures are read again after Refresh (default 10 s).
	Refresh time.Duration
}

// DefaultThresholds are the thresholds of a zero Thresholds field.
var DefaultThresholds = Thresholds{SlowAfter: 5 * time.Minute, ReportWindow: 15 * time.Minute, SlowShare: 0.15,
	ErrorWindow: 5 * time.Minute, ErrorShare: 0.2, MinSamples: 20, Sample: 1000, ProbeShare: 0.1, Ramp: 10 * time.Minute,
	Refresh: 10 * time.Second}

func (t Thresholds) withDefaults() Thresholds {
	d := DefaultThresholds
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&t.SlowAfter, d.SlowAfter)
	set(&t.ReportWindow, d.ReportWindow)
	set(&t.ErrorWindow, d.ErrorWindow)
	set(&t.Ramp, d.Ramp)
	set(&t.Refresh, d.Refresh)
	if t.SlowShare == 0 {
		t.SlowShare = d.SlowShare
	}
	if t.ErrorShare == 0 {
		t.ErrorShare = d.ErrorShare
	}
	if t.MinSamples <= 0 {
		t.MinSamples = d.MinSamples
	}
	if t.Sample <= 0 {
		t.Sample = d.Sample
	}
	if t.ProbeShare <= 0 || t.ProbeShare > 1 {
		t.ProbeShare = d.ProbeShare
	}
	return t
}

// carrierHealth is what a Monitor knows of one carrier.
type carrierHealth struct {
	name  string
	state State
	since time.Time // when state began
	stats store.CarrierStats
}

// Monitor follows a primary and a secondary carrier. It is safe for concurrent use.
type Monitor struct {
	src       Source
	th        Thresholds
	log       *slog.Logger
	now       func() time.Time
	primary   *carrierHealth
	secondary *carrierHealth

	mu         sync.Mutex
	readAt     time.Time // last refresh (successful or not)
	refreshing bool
}

// Options of a Monitor beyond its thresholds.
type Options struct {
	Log *slog.Logger
	Now func() time.Time // the clock (tests); default time.Now
}

// New follows primary and secondary (both named as in the dispatch attempts).
func New(src Source, primary, secondary string, th Thresholds, o Options) *Monitor {
	m := &Monitor{src: src, th: th.withDefaults(), log: o.Log, now: o.Now,
		primary: &carrierHealth{name: primary}, secondary: &carrierHealth{name: secondary}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	for _, c := range []*carrierHealth{m.primary, m.secondary} {
		metrics.CarrierHealth.WithLabelValues(c.name).Set(float64(Healthy))
	}
	metrics.CarrierTrafficShare.WithLabelValues(primary).Set(1)
	metrics.CarrierTrafficShare.WithLabelValues(secondary).Set(0)
	return m
}

// PrimaryShare is the share of messages, in [0, 1], that go to the primary carrier first now;
// the others go to the secondary first. It reads the figures again when they are older than
// Refresh: one caller reads while the others go on with the figures they have.
func (m *Monitor) PrimaryShare(ctx context.Context) float64 {
	now := m.now()
	m.mu.Lock()
	read := !m.refreshing && now.Sub(m.readAt) >= m.th.Refresh
	if read {
		m.refreshing = true
	}
	m.mu.Unlock()
	if read {
		m.refresh(ctx, now)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shareLocked(now)
}

// State is a carrier's health as last judged.
func (m *Monitor) State(carrierName string) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range []*carrierHealth{m.primary, m.secondary} {
		if c.name == carrierName {
			return c.state
		}
	}
	return Healthy
}

// refresh reads both carriers' figures and moves their states.
func (m *Monitor) refresh(ctx context.Context, now time.Time) {
	// A bounded read whatever the caller's deadline: a slow database delays one message a
	// little, the others go on with the previous figures.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	w := store.CarrierWindow{SlowAfter: m.th.SlowAfter, Reports: m.th.ReportWindow, Errors: m.th.ErrorWindow, Sample: m.th.Sample}
	var stats [2]store.CarrierStats
	var err error
	for i, c := range []*carrierHealth{m.primary, m.secondary} {
		if stats[i], err = m.src.CarrierStats(rctx, c.name, now, w); err != nil {
			break
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refreshing, m.readAt = false, now
	if err != nil {
		m.log.Warn("carrier health: figures not read; keeping the last judgement", "error", err)
		return
	}
	for i, c := range []*carrierHealth{m.primary, m.secondary} {
		c.stats = stats[i]
		m.judgeLocked(c, now)
		slow, errs := ratio(c.stats.Slow, c.stats.Judged), ratio(c.stats.Errors, c.stats.Calls)
		metrics.CarrierSlowReports.WithLabelValues(c.name).Set(slow)
		metrics.CarrierErrors.WithLabelValues(c.name).Set(errs)
	}
	share := m.shareLocked(now)
	metrics.CarrierTrafficShare.WithLabelValues(m.primary.name).Set(share)
	metrics.CarrierTrafficShare.WithLabelValues(m.secondary.name).Set(1 - share)
}

// judgeLocked moves c's state on its figures: degraded when over a threshold, recovering once
// under half of every threshold, healthy once the ramp is over.
func (m *Monitor) judgeLocked(c *carrierHealth, now time.Time) {
	over, under := m.assess(c.stats)
	next := c.state
	switch {
	case over:
		next = Degraded
	case c.state == Degraded && under:
		next = Recovering
	case c.state == Recovering && now.Sub(c.since) >= m.th.Ramp:
		next = Healthy
	}
	if next == c.state {
		return
	}
	c.state, c.since = next, now
	metrics.CarrierHealth.WithLabelValues(c.name).Set(float64(c.state))
	metrics.CarrierHealthChanges.WithLabelValues(c.name, c.state.String()).Inc()
	attrs := []any{"carrier", c.name, "state", c.state.String(), "slow_reports", ratio(c.stats.Slow, c.stats.Judged),
		"judged", c.stats.Judged, "errors", ratio(c.stats.Errors, c.stats.Calls), "calls", c.stats.Calls}
	if c == m.primary {
		attrs = append(attrs, "secondary", m.secondary.name)
	}
	if c.state == Degraded {
		m.log.Warn("carrier health: degraded", attrs...)
	} else {
		m.log.Info("carrier health: "+c.state.String(), attrs...)
	}
}

// assess says whether figures are over a threshold, and whether they are under half of every
// threshold (too few samples count as under: a degraded carrier whose traffic dried up is
// probed again).
func (m *Monitor) assess(st store.CarrierStats) (over, under bool) {
	under = true
	for _, f := range []struct {
		n, of     int
		threshold float64
	}{{st.Slow, st.Judged, m.th.SlowShare}, {st.Errors, st.Calls, m.th.ErrorShare}} {
		if f.threshold < 0 || f.of < m.th.MinSamples {
			continue
		}
		r := ratio(f.n, f.of)
		over = over || r >= f.threshold
		under = under && r < f.threshold/2
	}
	return over, under
}

// shareLocked is the primary's share at now. A degraded secondary takes no shifted traffic.
func (m *Monitor) shareLocked(now time.Time) float64 {
	if m.secondary.state == Degraded {
		return 1
	}
	switch m.primary.state {
	case Degraded:
		return m.th.ProbeShare
	case Recovering:
		done := float64(now.Sub(m.primary.since)) / float64(m.th.Ramp)
		return min(1, m.th.ProbeShare+(1-m.th.ProbeShare)*max(0, done))
	}
	return 1
}

func ratio(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// PrefersPrimary says whether the message goes to the primary carrier first when the primary
// takes share of the traffic. The choice is a function of the message id: a retried dispatch
// makes the same one, and a message sent to the primary at some share still is at any larger
// share (so a recovering primary's share grows by adding messages, never by swapping them).
func PrefersPrimary(messageID string, share float64) bool {
	if share >= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(messageID))
	return float64(mix(h.Sum64())>>11)/(1<<53) < share
}

// mix spreads every bit of x over the high bits (SplitMix64's finaliser): FNV alone leaves the
// high bits of ids that differ only in their last characters close together.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

package health_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"smsflow/carrier/health"
	"smsflow/internal/testenv"
	"smsflow/metrics"
	"smsflow/store"
)

// history writes what workers and webhooks record about a carrier.
type history struct {
	t  *testing.T
	db *store.Store
}

// accepted records n messages accepted by carrierName at at; reportAfter > 0 stores each one's
// final delivery report that long after, 0 none.
func (h history) accepted(carrierName string, n int, at time.Time, reportAfter time.Duration) {
	h.t.Helper()
	ctx := context.Background()
	for range n {
		id := uuid.NewString()
		if _, err := h.db.Pool.Exec(ctx, `INSERT INTO dispatch_attempts (message_id, attempt, carrier, state, carrier_message_id, started_at, finished_at)
VALUES ($1, 1, $2, 'accepted', $3, $4, $4)`, id, carrierName, "SM"+id, at); err != nil {
			h.t.Fatal(err)
		}
		if reportAfter > 0 {
			if _, err := h.db.Pool.Exec(ctx, `INSERT INTO message_events (message_id, source, source_event_id, kind, status, occurred_at, received_at)
VALUES ($1, $2, $3, 'delivery', 'delivered', $4, $4)`, id, carrierName, id+"/delivered", at.Add(reportAfter)); err != nil {
				h.t.Fatal(err)
			}
		}
	}
}

// failed records n calls to carrierName that failed with class at at.
func (h history) failed(carrierName string, n int, at time.Time, class string) {
	h.t.Helper()
	for range n {
		if _, err := h.db.Pool.Exec(context.Background(), `INSERT INTO dispatch_attempts (message_id, attempt, carrier, state, error_class, started_at, finished_at)
VALUES ($1, 1, $2, 'failed', $3, $4, $4)`, uuid.NewString(), carrierName, class, at); err != nil {
			h.t.Fatal(err)
		}
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// countingSource counts the figures read.
type countingSource struct {
	health.Source
	reads atomic.Int64
}

func (c *countingSource) CarrierStats(ctx context.Context, name string, now time.Time, w store.CarrierWindow) (store.CarrierStats, error) {
	c.reads.Add(1)
	return c.Source.CarrierStats(ctx, name, now, w)
}

var thresholds = health.Thresholds{Refresh: time.Second}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// Slow reports shift traffic to the secondary; once they are fast again the primary's share
// grows back over the ramp, and the changes are logged and exported.
func TestSlowReportsShiftThenRecoveryDriftsBack(t *testing.T) {
	db := testenv.Store(t)
	h := history{t, db}
	t0 := time.Now().UTC().Truncate(time.Second)
	// Primary: 40 messages accepted 10 minutes ago, 10 still without a report (25 %); 20 more
	// whose report came after 7 minutes count as slow too (30 of 60 = 50 %).
	h.accepted("slowp", 30, t0.Add(-10*time.Minute), 20*time.Second)
	h.accepted("slowp", 10, t0.Add(-10*time.Minute), 0)
	h.accepted("slowp", 20, t0.Add(-12*time.Minute), 7*time.Minute)
	h.accepted("slows", 30, t0.Add(-10*time.Minute), 10*time.Second)
	// Too young to judge: accepted 2 minutes ago (their reports come a minute later).
	h.accepted("slowp", 100, t0.Add(-2*time.Minute), time.Minute)

	var logs bytes.Buffer
	clk := &clock{t: t0}
	m := health.New(db, "slowp", "slows", thresholds, health.Options{Now: clk.Now,
		Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	if share := m.PrimaryShare(context.Background()); !approx(share, 0.1) || m.State("slowp") != health.Degraded {
		t.Fatalf("primary share %v, state %v; want 0.1 (the probe share), degraded", share, m.State("slowp"))
	}
	if m.State("slows") != health.Healthy {
		t.Fatalf("secondary %v, want healthy", m.State("slows"))
	}
	if v := testutil.ToFloat64(metrics.CarrierHealth.WithLabelValues("slowp")); v != 2 {
		t.Errorf("smsflow_carrier_health{carrier=slowp} = %v, want 2", v)
	}
	if v := testutil.ToFloat64(metrics.CarrierTrafficShare.WithLabelValues("slows")); !approx(v, 0.9) {
		t.Errorf("smsflow_carrier_traffic_share{carrier=slows} = %v, want 0.9", v)
	}
	if v := testutil.ToFloat64(metrics.CarrierSlowReports.WithLabelValues("slowp")); !approx(v, 0.5) {
		t.Errorf("smsflow_carrier_slow_report_ratio{carrier=slowp} = %v, want 0.5", v)
	}
	if !strings.Contains(logs.String(), `"msg":"carrier health: degraded"`) || !strings.Contains(logs.String(), `"carrier":"slowp"`) {
		t.Errorf("the switch is not logged: %s", logs.String())
	}

	// 11 minutes on, the slow messages are out of the window; the primary's probe traffic
	// since got its reports within seconds.
	h.accepted("slowp", 30, t0.Add(3*time.Minute), 15*time.Second)
	t1 := t0.Add(11 * time.Minute)
	clk.Set(t1)
	if share := m.PrimaryShare(context.Background()); !approx(share, 0.1) || m.State("slowp") != health.Recovering {
		t.Fatalf("recovered: share %v, state %v; want recovering from 0.1", share, m.State("slowp"))
	}
	clk.Set(t1.Add(5 * time.Minute)) // half the ramp
	if share := m.PrimaryShare(context.Background()); !approx(share, 0.55) {
		t.Fatalf("half way through the ramp: share %v, want 0.55", share)
	}
	clk.Set(t1.Add(10 * time.Minute))
	if share := m.PrimaryShare(context.Background()); share != 1 || m.State("slowp") != health.Healthy {
		t.Fatalf("after the ramp: share %v, state %v; want 1, healthy", share, m.State("slowp"))
	}
	if v := testutil.ToFloat64(metrics.CarrierHealthChanges.WithLabelValues("slowp", "healthy")); v != 1 {
		t.Errorf("changes to healthy = %v, want 1", v)
	}
	for _, want := range []string{"carrier health: recovering", "carrier health: healthy"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("%q not logged: %s", want, logs.String())
		}
	}
}

// Slow again during the ramp: back to the probe share at once.
func TestRelapseDuringRamp(t *testing.T) {
	db := testenv.Store(t)
	h := history{t, db}
	t0 := time.Now().UTC().Truncate(time.Second)
	h.accepted("relp", 30, t0.Add(-10*time.Minute), 0)
	clk := &clock{t: t0}
	m := health.New(db, "relp", "rels", thresholds, health.Options{Now: clk.Now})
	if share := m.PrimaryShare(context.Background()); !approx(share, 0.1) {
		t.Fatalf("share %v, want 0.1", share)
	}
	// Out of the window and no new figures: too few samples, so it is probed more.
	clk.Set(t0.Add(11 * time.Minute))
	if m.PrimaryShare(context.Background()); m.State("relp") != health.Recovering {
		t.Fatalf("state %v, want recovering", m.State("relp"))
	}
	h.accepted("relp", 25, t0.Add(4*time.Minute), 0)
	clk.Set(t0.Add(14 * time.Minute))
	if share := m.PrimaryShare(context.Background()); !approx(share, 0.1) || m.State("relp") != health.Degraded {
		t.Fatalf("slow again: share %v, state %v; want 0.1, degraded", share, m.State("relp"))
	}
}

// An error spike shifts traffic; refusals of messages (permanent) are no sign of a sick carrier.
func TestErrorSpikeShifts(t *testing.T) {
	db := testenv.Store(t)
	h := history{t, db}
	t0 := time.Now().UTC().Truncate(time.Second)
	h.accepted("errp", 20, t0.Add(-time.Minute), 0) // too young to judge on reports
	h.failed("errp", 8, t0.Add(-2*time.Minute), "temporary")
	h.failed("errp", 2, t0.Add(-2*time.Minute), "uncertain")
	h.failed("errp", 30, t0.Add(-2*time.Minute), "breaker-open") // no calls
	h.accepted("refp", 20, t0.Add(-time.Minute), 0)
	h.failed("refp", 30, t0.Add(-2*time.Minute), "permanent")
	h.failed("refp", 10, t0.Add(-20*time.Minute), "temporary") // out of the error window

	m := health.New(db, "errp", "errs", thresholds, health.Options{Now: func() time.Time { return t0 }})
	if share := m.PrimaryShare(context.Background()); !approx(share, 0.1) || m.State("errp") != health.Degraded {
		t.Fatalf("10 errors in 30 calls: share %v, state %v; want 0.1, degraded", share, m.State("errp"))
	}
	if v := testutil.ToFloat64(metrics.CarrierErrors.WithLabelValues("errp")); !approx(v, 1.0/3) {
		t.Errorf("smsflow_carrier_error_ratio{carrier=errp} = %v, want 1/3", v)
	}
	m = health.New(db, "refp", "refs", thresholds, health.Options{Now: func() time.Time { return t0 }})
	if share := m.PrimaryShare(context.Background()); share != 1 || m.State("refp") != health.Healthy {
		t.Fatalf("refusals only: share %v, state %v; want 1, healthy", share, m.State("refp"))
	}
}

// Nothing shifts on too few figures, nor to a secondary that is degraded itself.
func TestNoShiftOnFewSamplesOrToASickSecondary(t *testing.T) {
	db := testenv.Store(t)
	h := history{t, db}
	t0 := time.Now().UTC().Truncate(time.Second)
	h.accepted("fewp", 15, t0.Add(-10*time.Minute), 0)
	m := health.New(db, "fewp", "fews", thresholds, health.Options{Now: func() time.Time { return t0 }})
	if share := m.PrimaryShare(context.Background()); share != 1 {
		t.Fatalf("15 slow messages (under min 20): share %v, want 1", share)
	}
	h.accepted("bothp", 30, t0.Add(-10*time.Minute), 0)
	h.accepted("boths", 30, t0.Add(-10*time.Minute), 0)
	m = health.New(db, "bothp", "boths", thresholds, health.Options{Now: func() time.Time { return t0 }})
	if share := m.PrimaryShare(context.Background()); share != 1 || m.State("bothp") != health.Degraded {
		t.Fatalf("both slow: share %v, primary %v; want 1 (nowhere better to go), degraded", share, m.State("bothp"))
	}
}

// Many messages within one refresh interval read the figures once.
func TestFiguresReadOncePerRefresh(t *testing.T) {
	db := testenv.Store(t)
	src := &countingSource{Source: db}
	clk := &clock{t: time.Now()}
	m := health.New(src, "cachep", "caches", health.Thresholds{Refresh: 10 * time.Second}, health.Options{Now: clk.Now})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				m.PrimaryShare(context.Background())
			}
		}()
	}
	wg.Wait()
	if n := src.reads.Load(); n != 2 {
		t.Fatalf("1,000 messages read the figures %d times, want 2 (primary and secondary, once)", n)
	}
	clk.Set(clk.Now().Add(11 * time.Second))
	m.PrimaryShare(context.Background())
	if n := src.reads.Load(); n != 4 {
		t.Fatalf("after the refresh interval: %d reads, want 4", n)
	}
}

// The choice is a function of the id, takes about the share, and a larger share keeps every
// message a smaller one sent to the primary.
func TestPrefersPrimaryIsDeterministic(t *testing.T) {
	const n = 20000
	for _, share := range []float64{0, 0.1, 0.55, 1} {
		got := 0
		for i := range n {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			p := health.PrefersPrimary(id, share)
			if p != health.PrefersPrimary(id, share) {
				t.Fatalf("%s: two answers at share %v", id, share)
			}
			if p && !health.PrefersPrimary(id, share+0.2) {
				t.Fatalf("%s: primary at share %v but not at %v", id, share, share+0.2)
			}
			if p {
				got++
			}
		}
		if f := float64(got) / n; math.Abs(f-share) > 0.02 {
			t.Errorf("share %v: %.3f of messages to the primary", share, f)
		}
	}
}

func TestParseThresholds(t *testing.T) {
	th, on, err := health.ParseThresholds("slow=20%,slow_after=2m,window=10m,errors=off,probe=0.05,ramp=1m,min=5,refresh=3s")
	if err != nil || !on || th.SlowShare != 0.2 || th.SlowAfter != 2*time.Minute || th.ReportWindow != 10*time.Minute ||
		th.ErrorShare != -1 || th.ProbeShare != 0.05 || th.Ramp != time.Minute || th.MinSamples != 5 || th.Refresh != 3*time.Second ||
		th.ErrorWindow != health.DefaultThresholds.ErrorWindow {
		t.Fatalf("%+v %v %v", th, on, err)
	}
	if th, on, err := health.ParseThresholds(""); err != nil || !on || th != health.DefaultThresholds {
		t.Fatalf("empty: %+v %v %v, want the defaults", th, on, err)
	}
	if _, on, err := health.ParseThresholds("off"); err != nil || on {
		t.Fatalf("off: %v %v", on, err)
	}
	for _, bad := range []string{"slow=150%", "probe=0", "window=4m", "ramp=-1s", "speed=1", "min=x", "slow"} {
		if _, _, err := health.ParseThresholds(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

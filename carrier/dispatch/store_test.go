package dispatch_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/sony/gobreaker/v2"

	"smsflow/carrier/dispatch"
	"smsflow/carrier/health"
	"smsflow/carrier/sim"
	"smsflow/internal/testenv"
	"smsflow/store"
)

// The same guarantees with the PostgreSQL bookkeeping: a timeout after the simulator took the
// message, retries, one message received; a second accepted attempt is refused by the schema.
func TestExactlyOnceWithPostgres(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t)
	s, snd := newSim(t, "sim", sim.Options{Timeout: 1, Hang: 5 * time.Second}, true)
	d := dispatch.New(db, dispatch.Carrier{Sender: snd}, nil, settings)
	id := uuid.NewString()
	r, err := d.Send(ctx, msg(id), nil)
	if err != nil || !r.Recovered {
		t.Fatalf("%+v %v", r, err)
	}
	for range 2 {
		if r2, err := d.Send(ctx, msg(id), nil); err != nil || r2.CarrierMessageID != r.CarrierMessageID {
			t.Fatalf("retry %+v %v", r2, err)
		}
	}
	if s.Sends(id) != 1 {
		t.Fatalf("simulator received %s %d times, want 1", id, s.Sends(id))
	}
	atts, err := db.DispatchAttempts(ctx, id)
	if err != nil || len(atts) != 1 || atts[0].State != store.AttemptAccepted || atts[0].CarrierMessageID != r.CarrierMessageID {
		t.Fatalf("attempts %+v %v", atts, err)
	}
	if got, err := db.MessageByCarrierID(ctx, "sim", r.CarrierMessageID); err != nil || got != id {
		t.Fatalf("MessageByCarrierID = %q, %v", got, err)
	}
	n, err := db.StartAttempt(ctx, id, "sim")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.FinishAttempt(ctx, id, n, store.AttemptOutcome{State: store.AttemptAccepted, CarrierMessageID: "SMother"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second acceptance: %v, want ErrConflict", err)
	}
}

// The attempt states in PostgreSQL: prepared moves to sending only once and only from prepared;
// a prepared attempt (a worker that died before its request left) is given up and the message
// sent once, not uncertain; a sending one (or the older started) at a carrier that cannot be
// asked is uncertain and never resent.
func TestAttemptStatesWithPostgres(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t)
	s, snd := newSim(t, "twilio", sim.Options{}, false)
	d := dispatch.New(db, dispatch.Carrier{Sender: snd}, nil, settings)
	states := func(id string) []string {
		atts, err := db.DispatchAttempts(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range atts {
			out = append(out, a.State)
		}
		return out
	}

	crashedBefore := uuid.NewString()
	if _, err := db.StartAttempt(ctx, crashedBefore, "twilio"); err != nil {
		t.Fatal(err)
	}
	r, err := d.Send(ctx, msg(crashedBefore), nil)
	if err != nil || r.Attempt != 2 || r.Recovered {
		t.Fatalf("after a crash before the request: %+v %v, want sent by attempt 2", r, err)
	}
	if got := states(crashedBefore); !slices.Equal(got, []string{store.AttemptAbandoned, store.AttemptAccepted}) || s.Sends(crashedBefore) != 1 {
		t.Fatalf("states %v, %d requests; want abandoned then accepted, 1 request", got, s.Sends(crashedBefore))
	}

	for _, state := range []string{store.AttemptSending, store.AttemptStarted} {
		id := uuid.NewString()
		n, err := db.StartAttempt(ctx, id, "twilio")
		if err != nil {
			t.Fatal(err)
		}
		if state == store.AttemptSending {
			if err := db.MarkSending(ctx, id, n); err != nil {
				t.Fatal(err)
			}
			if err := db.MarkSending(ctx, id, n); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("second MarkSending: %v, want ErrConflict", err)
			}
			if err := db.AbandonPrepared(ctx, id, n, "x"); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("abandoning a sending attempt: %v, want ErrConflict", err)
			}
		} else if _, err := db.Pool.Exec(ctx, `UPDATE dispatch_attempts SET state = 'started' WHERE message_id = $1`, id); err != nil {
			t.Fatal(err) // what a worker from before the split leaves
		}
		for range 2 {
			if _, err := d.Send(ctx, msg(id), nil); !errors.Is(err, dispatch.ErrSendUncertain) {
				t.Fatalf("%s found: %v, want ErrSendUncertain", state, err)
			}
		}
		if got := states(id); !slices.Equal(got, []string{state}) || s.Sends(id) != 0 {
			t.Fatalf("%s found: states %v, %d requests; want it alone and no request", state, got, s.Sends(id))
		}
	}
}

// The primary's slow delivery reports, as every worker recorded them in PostgreSQL, send about
// nine messages in ten to the secondary first; each message's carrier is the one its id picks,
// and a retried Send finds it there. With the secondary's breaker open, its messages fall back
// to the primary.
func TestHealthShiftsTrafficWithPostgres(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t)
	p, primary := newSim(t, "sim", sim.Options{}, true)
	b, backup := newSim(t, "backup", sim.Options{}, true)
	// 30 messages the primary accepted ten minutes ago, none reported since.
	for range 30 {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO dispatch_attempts (message_id, attempt, carrier, state, carrier_message_id, started_at, finished_at)
VALUES ($1, 1, 'sim', 'accepted', $2, now() - interval '10 minutes', now() - interval '10 minutes')`, uuid.NewString(), "SM"+uuid.NewString()); err != nil {
			t.Fatal(err)
		}
	}
	monitor := health.New(db, "sim", "backup", health.Thresholds{Refresh: time.Hour}, health.Options{})
	s := settings
	s.Health = monitor
	d := dispatch.New(db, dispatch.Carrier{Sender: primary}, &dispatch.Carrier{Sender: backup}, s)
	toBackup := 0
	for range 200 {
		id := uuid.NewString()
		want := "backup"
		if health.PrefersPrimary(id, 0.1) {
			want = "sim"
		} else {
			toBackup++
		}
		r, err := d.Send(ctx, msg(id), nil)
		if err != nil || r.Carrier != want {
			t.Fatalf("%s: %+v %v, want sent through %s", id, r, err, want)
		}
		if r2, err := d.Send(ctx, msg(id), nil); err != nil || !r2.Recovered || r2.Carrier != want {
			t.Fatalf("%s retried: %+v %v, want found at %s", id, r2, err, want)
		}
		if p.Sends(id)+b.Sends(id) != 1 {
			t.Fatalf("%s sent %d + %d times", id, p.Sends(id), b.Sends(id))
		}
	}
	if monitor.State("sim") != health.Degraded || toBackup < 160 || toBackup == 200 {
		t.Fatalf("primary %v, %d of 200 to the secondary; want degraded, about 180 (probe share 10 %%)", monitor.State("sim"), toBackup)
	}

	// The secondary fails (server errors, uncertain) until its breaker opens.
	b.SetFaults(1, 0, 0)
	backupFirst := func() string {
		for {
			if id := uuid.NewString(); !health.PrefersPrimary(id, 0.1) {
				return id
			}
		}
	}
	for i := 0; d.BreakerState("backup") != gobreaker.StateOpen; i++ {
		if i == settings.BreakerFailures {
			t.Fatalf("the secondary's breaker is %v after %d failures", d.BreakerState("backup"), i)
		}
		_, _ = d.Send(ctx, msg(backupFirst()), nil)
	}
	fallback := backupFirst()
	if r, err := d.Send(ctx, msg(fallback), nil); err != nil || r.Carrier != "sim" {
		t.Fatalf("secondary's breaker open: %+v %v, want sent through the primary", r, err)
	}
}

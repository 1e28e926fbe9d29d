package dispatch_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"smsflow/carrier/dispatch"
	"smsflow/carrier/sim"
	"smsflow/internal/testenv"
	"smsflow/store"
)

// The same guarantees with the PostgreSQL bookkeeping: a timeout after the simulator took the
// message, retries, one message received; a second accepted attempt is refused by the schema.
func TestExactlyOnceWithPostgres(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
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

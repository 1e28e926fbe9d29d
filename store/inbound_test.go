package store_test

import (
	"context"
	"testing"
	"time"

	"smsflow/store"
)

// A reply reaches only the portal whose message was sent from the receiving number; a number two
// portals send from (to the same person) routes to neither.
func TestReplyRouteStaysInItsPortal(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	const phone = "+33612345603"
	msgs := []struct {
		id     string
		portal int64
		sender string
		ago    time.Duration
	}{
		{"00000000-0000-0000-0000-0000000000d1", 7, "+33700000007", 3 * time.Minute},
		{"00000000-0000-0000-0000-0000000000d2", 8, "+33700000008", 2 * time.Minute},
		{"00000000-0000-0000-0000-0000000000d3", 7, "33700000099", time.Minute},       // shared number…
		{"00000000-0000-0000-0000-0000000000d4", 8, "+33700000099", 30 * time.Second}, // …used by both
	}
	for _, m := range msgs {
		sent := time.Now().Add(-m.ago)
		if err := s.SaveMessage(ctx, store.Message{ID: m.id, PortalID: m.portal, ObjectType: "contact", ObjectID: "1", Phone: phone,
			Sender: m.sender, Status: "SMS_SENT", SentAt: &sent}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		to, message, why string
		portal           int64
	}{
		{"+33700000007", msgs[0].id, store.RouteSender, 7}, // not portal 8's later message
		{"+33700000008", msgs[1].id, store.RouteSender, 8},
		{"+33700000099", msgs[3].id, store.RouteSender, 8}, // the latest message from the shared number
		{"", "", store.RouteShared, 0},
		{"+33700000055", "", store.RouteUnknown, 0},
	} {
		var route store.ReplyRoute
		if err := s.InTx(ctx, func(tx *store.Tx) (err error) { route, err = tx.ReplyRoute(ctx, phone, tc.to); return err }); err != nil {
			t.Fatal(err)
		}
		if route.MessageID != tc.message || route.PortalID != tc.portal || route.Why != tc.why {
			t.Errorf("reply to %q: route %+v, want message %q portal %d (%s)", tc.to, route, tc.message, tc.portal, tc.why)
		}
	}
}

func addSignalled(t *testing.T, s *store.Store, messageID, eventID string, cap int) store.StoredInbound {
	t.Helper()
	ctx := context.Background()
	var st store.StoredInbound
	err := s.InTx(ctx, func(tx *store.Tx) (err error) {
		st, err = tx.AddInbound(ctx, store.Inbound{Event: store.Event{MessageID: &messageID, Source: "sim", SourceEventID: eventID,
			Kind: "delivery", Status: "delivered", OccurredAt: time.Now()},
			Signal: &store.Signal{Name: "carrier-report", Payload: []byte(`{"EventID":"` + eventID + `"}`)}, SignalCap: cap}, time.Minute)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The outbox: a stored signal is claimed by its webhook first, taken by no sweeper during the
// lease, then by one sweeper only; a cap drops signals past it; a carrier's retry of an event
// still owed claims it again once it is due.
func TestOutboxClaims(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	const msg = "00000000-0000-0000-0000-0000000000e1"
	first := addSignalled(t, s, msg, "SM1:delivered", 2)
	if !first.Inserted || first.Claimed == nil || first.Claimed.MessageID != msg || string(first.Claimed.Payload) != `{"EventID": "SM1:delivered"}` && string(first.Claimed.Payload) != `{"EventID":"SM1:delivered"}` {
		t.Fatalf("stored = %+v, want inserted and claimed for the webhook", first)
	}
	if due, err := s.ClaimDueSignals(ctx, 10, time.Minute); err != nil || len(due) != 0 {
		t.Fatalf("sweeper took %v %v during the webhook's lease", due, err)
	}
	if again := addSignalled(t, s, msg, "SM1:delivered", 2); again.Inserted || again.Claimed != nil {
		t.Fatalf("retry during the lease = %+v, want neither stored nor claimed", again)
	}
	if err := s.ReleaseSignal(ctx, first.Seq, 0, true); err != nil {
		t.Fatal(err)
	}
	if again := addSignalled(t, s, msg, "SM1:delivered", 2); again.Inserted || again.Claimed == nil || again.Claimed.Attempts != 1 {
		t.Fatalf("retry once due = %+v, want the owed signal claimed (1 failed try)", again)
	}
	addSignalled(t, s, msg, "SM2:delivered", 2)
	if capped := addSignalled(t, s, msg, "SM3:delivered", 2); !capped.Inserted || !capped.Capped || capped.Claimed != nil {
		t.Fatalf("third signal with a cap of 2 = %+v, want stored without a signal", capped)
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE message_events SET signal_due_at = now() - interval '1 second' WHERE signal_name IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OwedSignals(ctx); n != 2 {
		t.Fatalf("owed = %d, want 2", n)
	}
	// Two sweepers at once share the due signals without overlap.
	got := make(chan []store.PendingSignal, 2)
	for range 2 {
		go func() { p, _ := s.ClaimDueSignals(ctx, 10, time.Minute); got <- p }()
	}
	a, b := <-got, <-got
	if len(a)+len(b) != 2 || len(a) == 1 && a[0].Seq == b[0].Seq {
		t.Fatalf("claims %v and %v, want the two signals once", a, b)
	}
	for _, p := range append(a, b...) {
		if err := s.MarkSignalled(ctx, p.Seq, store.SignalDelivered); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.OwedSignals(ctx); n != 0 {
		t.Fatalf("owed after marking = %d", n)
	}
}

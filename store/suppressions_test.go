package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"smsflow/store"
)

func TestSuppressions(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	if err := s.Suppress(ctx, 7, "sms", "+33612345678", "stop_reply", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Suppress(ctx, 7, "sms", "+33612345678", "unsubscribe_link", ""); err != nil { // idempotent
		t.Fatal(err)
	}
	if off, reason, err := s.Suppressed(ctx, 7, "sms", "+33612345678"); err != nil || !off || reason != "stop_reply" {
		t.Fatalf("suppressed = %v %q %v, want the first reason kept", off, reason, err)
	}
	if off, _, _ := s.Suppressed(ctx, 8, "sms", "+33612345678"); off {
		t.Fatal("a suppression leaked to another portal")
	}
	if err := s.Unsuppress(ctx, 7, "sms", "+33612345678", "start_reply", ""); err != nil {
		t.Fatal(err)
	}
	if off, _, _ := s.Suppressed(ctx, 7, "sms", "+33612345678"); off {
		t.Fatal("START did not take the number off the list")
	}
	h, err := s.SuppressionHistory(ctx, 7, "sms", "+33612345678")
	if err != nil || len(h) != 3 || h[0].Source != "stop_reply" || h[1].Source != "unsubscribe_link" || h[2].Action != store.OptIn {
		t.Fatalf("history = %+v %v, want both opt-outs and the opt-in", h, err)
	}
}

// reply stores a reply event and its opt change in one transaction, as the inbound webhook does.
func reply(t *testing.T, s *store.Store, eventID, messageID, kw string, portal int64, action string) store.StoredInbound {
	t.Helper()
	ctx := context.Background()
	var stored store.StoredInbound
	err := s.InTx(ctx, func(tx *store.Tx) error {
		var msg *string
		if messageID != "" {
			msg = &messageID
		}
		var err error
		stored, err = tx.AddInbound(ctx, store.Inbound{Event: store.Event{MessageID: msg, Source: "sim", SourceEventID: eventID,
			Kind: "reply", Status: kw, OccurredAt: time.Now()}, PortalID: portal}, time.Minute)
		if err != nil {
			return err
		}
		source := store.SourceStopReply
		if action == store.OptIn {
			source = store.SourceStartReply
		}
		_, err = tx.ChangeOpt(ctx, store.OptChange{PortalID: portal, Channel: "sms", Phone: "+33612345601", Action: action,
			Source: source, Keyword: kw, MessageID: messageID, EventSeq: stored.Seq})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// STOP → START → STOP keeps all three in the history with their keyword, message and event; the
// workflow applying the first STOP late (after the START) changes nothing.
func TestSuppressionHistoryStopStartStop(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	const msg, phone = "00000000-0000-0000-0000-0000000000b1", "+33612345601"
	stop := reply(t, s, "SMstop1", msg, "STOP", 7, store.OptOut)
	reply(t, s, "SMstart", msg, "START", 7, store.OptIn)
	if err := s.Suppress(ctx, 7, "sms", phone, store.SourceStopReply, msg); err != nil { // the workflow, late
		t.Fatal(err)
	}
	if off, _, _ := s.Suppressed(ctx, 7, "sms", phone); off {
		t.Fatal("the workflow's late STOP undid the START")
	}
	reply(t, s, "SMstop2", msg, "ARRET", 7, store.OptOut)
	if off, reason, _ := s.Suppressed(ctx, 7, "sms", phone); !off || reason != store.SourceStopReply {
		t.Fatalf("after the second STOP: suppressed %v (%s)", off, reason)
	}
	h, err := s.SuppressionHistory(ctx, 7, "sms", phone)
	if err != nil || len(h) != 3 {
		t.Fatalf("history = %+v %v, want 3 entries", h, err)
	}
	for i, want := range []struct{ action, keyword string }{{store.OptOut, "STOP"}, {store.OptIn, "START"}, {store.OptOut, "ARRET"}} {
		if h[i].Action != want.action || h[i].Keyword != want.keyword || h[i].MessageID == nil || *h[i].MessageID != msg || h[i].EventSeq == nil {
			t.Errorf("history[%d] = %+v, want %s %s of message %s", i, h[i], want.action, want.keyword, msg)
		}
	}
	if *h[0].EventSeq != stop.Seq {
		t.Errorf("first entry points at event %d, want %d", *h[0].EventSeq, stop.Seq)
	}
}

// A STOP answering no known message is stored and suppresses for the portal owning the number it
// was sent to; event and suppression are one transaction: a failure after both leaves neither.
func TestStopWithoutKnownMessage(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	sent := time.Now()
	// Portal 7 sends from +33700000001, to someone else.
	if err := s.SaveMessage(ctx, store.Message{ID: "00000000-0000-0000-0000-0000000000c1", PortalID: 7, ObjectType: "contact",
		ObjectID: "1", Phone: "+33612345602", Sender: "+33700000001", Status: "SMS_SENT", SentAt: &sent}); err != nil {
		t.Fatal(err)
	}
	var route store.ReplyRoute
	if err := s.InTx(ctx, func(tx *store.Tx) (err error) {
		route, err = tx.ReplyRoute(ctx, "+33612345601", "+33700000001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if route.MessageID != "" || route.PortalID != 7 || route.Why != store.RouteOwner {
		t.Fatalf("route = %+v, want portal 7 without a message", route)
	}
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx *store.Tx) error {
		st, err := tx.AddInbound(ctx, store.Inbound{Event: store.Event{Source: "sim", SourceEventID: "SMlost", Kind: "reply",
			Status: "stop", OccurredAt: time.Now()}, PortalID: 7}, time.Minute)
		if err != nil {
			return err
		}
		if _, err := tx.ChangeOpt(ctx, store.OptChange{PortalID: 7, Channel: "sms", Phone: "+33612345601", Action: store.OptOut,
			Source: store.SourceStopReply, Keyword: "STOP", EventSeq: st.Seq}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if off, _, _ := s.Suppressed(ctx, 7, "sms", "+33612345601"); off {
		t.Fatal("a rolled back STOP suppressed the number")
	}
	reply(t, s, "SMstop", "", "STOP", route.PortalID, store.OptOut)
	if off, _, _ := s.Suppressed(ctx, 7, "sms", "+33612345601"); !off {
		t.Fatal("a STOP answering no message did not suppress")
	}
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM message_events WHERE source_event_id = 'SMstop' AND portal_id = 7 AND message_id IS NULL`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("stored STOP events: %d %v, want 1 with its portal", n, err)
	}
}

package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"smsflow/internal/testenv"
	"smsflow/store"
)

// seedMessage stores a message to phone with a row in every table that holds message data, created
// age ago, and returns its id.
func seedMessage(t *testing.T, db *store.Store, portal int64, phone, status string, age time.Duration) string {
	t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	if err := db.SaveMessage(ctx, store.Message{ID: id, PortalID: portal, ObjectType: "contact", ObjectID: "501", Channel: "sms",
		Phone: phone, Country: "FR", Text: "Bonjour", Status: status, WorkflowID: "sms-" + id}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddEvent(ctx, store.Event{MessageID: &id, Source: "workflow", SourceEventID: id + "/" + status, Kind: "status",
		Status: status, OccurredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateShortLink(ctx, id, portal, "link", "https://shop.example/"+id); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO dispatch_attempts (message_id, attempt, carrier, state) SELECT $1, 1, 'sim', 'accepted' WHERE $2::bigint > 0 AND $3 <> ''`,
		`INSERT INTO hubspot_outbox (portal_id, message_id, kind, object_type, object_id, dedupe_key) SELECT $2, $1::uuid, 'timeline', 'contacts', '501', 'tl:' || $1::uuid::text WHERE $3 <> ''`,
		`INSERT INTO quota_reservations (message_id, portal_id, day, month) SELECT $1, $2, '2025-01-01', '2025-01' WHERE $3 <> ''`,
		`UPDATE messages SET created_at = now() - $3::interval, updated_at = now() - $3::interval WHERE id = $1 AND portal_id = $2`,
	} {
		if _, err := db.Pool.Exec(ctx, q, id, portal, age.String()); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return id
}

// rowsOf counts the rows of every message-data table that belong to the message.
func rowsOf(t *testing.T, db *store.Store, id string) int {
	t.Helper()
	var n int
	err := db.Pool.QueryRow(context.Background(), `SELECT
	(SELECT count(*) FROM messages WHERE id = $1) + (SELECT count(*) FROM message_events WHERE message_id = $1) +
	(SELECT count(*) FROM short_links WHERE message_id = $1) + (SELECT count(*) FROM dispatch_attempts WHERE message_id = $1) +
	(SELECT count(*) FROM hubspot_outbox WHERE message_id = $1) + (SELECT count(*) FROM quota_reservations WHERE message_id = $1)`, id).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// clearPhones counts the rows still holding the number in clear, anywhere.
func clearPhones(t *testing.T, db *store.Store, phone string) int {
	t.Helper()
	var n int
	err := db.Pool.QueryRow(context.Background(), `SELECT
	(SELECT count(*) FROM messages WHERE phone = $1) + (SELECT count(*) FROM suppressions WHERE phone = $1) +
	(SELECT count(*) FROM suppression_events WHERE phone = $1)`, phone).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPurgeKeepsDailyCountsAndHashedSuppressions(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t)
	const portal = int64(8101)
	const number, recentNumber = "+33612345621", "+33612345622"
	year := 365 * 24 * time.Hour
	if _, err := db.PurgeBefore(ctx, time.Now(), 10); err == nil {
		t.Fatal("a purge without PHONE_HASH_KEY must refuse: it could not keep suppressions")
	}
	db.PhoneHashKey = []byte("store-phone-key")
	old := []string{
		seedMessage(t, db, portal, number, "SMS_DELIVERED", year+48*time.Hour),
		seedMessage(t, db, portal, number, "SMS_DELIVERED", year+48*time.Hour),
		seedMessage(t, db, portal, number, "SMS_NOT_SENT", year+48*time.Hour),
	}
	recent := seedMessage(t, db, portal, recentNumber, "SMS_DELIVERED", time.Hour)
	// Created long ago for a send_at still ahead: its workflow waits for it.
	aheadID := seedMessage(t, db, portal, recentNumber, "PENDING", year+48*time.Hour)
	if _, err := db.Pool.Exec(ctx, `UPDATE messages SET send_at = now() + interval '1 day' WHERE id = $1`, aheadID); err != nil {
		t.Fatal(err)
	}
	if err := db.Suppress(ctx, portal, "sms", number, store.SourceStopReply, old[0]); err != nil {
		t.Fatal(err)
	}
	if err := db.Suppress(ctx, portal, "sms", recentNumber, store.SourceStopReply, recent); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE suppressions SET created_at = now() - interval '400 days' WHERE phone = $1`, number); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE suppression_events SET at = now() - interval '400 days' WHERE phone = $1`, number); err != nil {
		t.Fatal(err)
	}

	cutoff := time.Now().Add(-year)
	var batches int
	var purged store.Purged
	for {
		p, err := db.PurgeBefore(ctx, cutoff, 2)
		if err != nil {
			t.Fatal(err)
		}
		batches++
		purged.Messages += p.Messages
		purged.HashedSuppressions += p.HashedSuppressions
		if !p.More || batches > 10 {
			break
		}
	}
	if purged.Messages != 3 || purged.HashedSuppressions != 1 || batches != 2 {
		t.Errorf("purged %+v in %d batches, want 3 messages and 1 suppression in 2 batches of 2", purged, batches)
	}
	for _, id := range old {
		if n := rowsOf(t, db, id); n != 0 {
			t.Errorf("old message %s keeps %d rows", id, n)
		}
	}
	if n := rowsOf(t, db, recent); n != 6 {
		t.Errorf("recent message has %d rows, want its 6 kept", n)
	}
	if n := rowsOf(t, db, aheadID); n != 6 {
		t.Errorf("an old message pending for a send_at ahead has %d rows, want its 6 kept", n)
	}
	counts, err := db.DailyCounts(ctx, portal)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Status+"/"+c.Country+"/"+c.Channel] += c.Count
	}
	if len(got) != 2 || got["SMS_DELIVERED/FR/sms"] != 2 || got["SMS_NOT_SENT/FR/sms"] != 1 {
		t.Errorf("daily counts = %v, want 2 delivered and 1 not sent", got)
	}

	// The opt-out outlives the data, as a hash only.
	if n := clearPhones(t, db, number); n != 0 {
		t.Errorf("%d rows still hold the purged number in clear", n)
	}
	if off, reason, err := db.Suppressed(ctx, portal, "sms", number); err != nil || !off || reason != store.SourceStopReply {
		t.Errorf("Suppressed after the purge = %v %q %v, want still opted out (stop_reply)", off, reason, err)
	}
	if h, err := db.SuppressionHistory(ctx, portal, "sms", number); err != nil || len(h) != 1 || !strings.HasPrefix(h[0].Phone, "hash:") {
		t.Errorf("history after the purge = %+v %v, want one hashed opt-out", h, err)
	}
	if off, _, _ := db.Suppressed(ctx, portal, "sms", recentNumber); !off {
		t.Error("a recent suppression was lost")
	}
	// Without the key the hashed opt-out cannot be matched: the key is part of the deployment.
	other := *db
	other.PhoneHashKey = []byte("another-key")
	if off, _, _ := other.Suppressed(ctx, portal, "sms", number); off {
		t.Error("a hashed suppression matched under another key")
	}
	// A second STOP keeps the hashed row; a START removes it.
	if err := db.Suppress(ctx, portal, "sms", number, store.SourceManual, ""); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM suppressions WHERE portal_id = $1`, portal).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("suppressions of the portal = %d, %v; want 2 (a repeated STOP adds no clear row)", rows, err)
	}
	if err := db.Unsuppress(ctx, portal, "sms", number, store.SourceStartReply, ""); err != nil {
		t.Fatal(err)
	}
	if off, _, _ := db.Suppressed(ctx, portal, "sms", number); off {
		t.Error("a START did not remove the hashed suppression")
	}
}

func TestEraseRemovesTheNumberAndDropsLaterWrites(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t)
	db.PhoneHashKey = []byte("store-phone-key")
	const portal, otherPortal = int64(8201), int64(8202)
	const number = "+33612345631"
	a := seedMessage(t, db, portal, number, "SMS_DELIVERED", time.Hour)
	b := seedMessage(t, db, portal, number, "PENDING", time.Minute)
	kept := seedMessage(t, db, otherPortal, number, "SMS_DELIVERED", time.Hour) // another portal's data is its own
	if err := db.Suppress(ctx, portal, "sms", number, store.SourceStopReply, a); err != nil {
		t.Fatal(err)
	}
	// An unrouted reply from the number, stored for the portal.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO message_events (portal_id, source, source_event_id, kind, detail, occurred_at)
	VALUES ($1, 'sim', 'in-1', 'reply', jsonb_build_object('from', '33612345631', 'text', 'Qui est-ce ?'), now())`, portal); err != nil {
		t.Fatal(err)
	}

	done, err := db.Erase(ctx, store.Erasure{PortalID: portal, Phone: number})
	if err != nil {
		t.Fatal(err)
	}
	if len(done.MessageIDs) != 2 || len(done.WorkflowIDs) != 2 || done.HashedSuppressions != 1 {
		t.Errorf("erased %+v, want 2 messages with their workflows and 1 suppression", done)
	}
	for _, id := range []string{a, b} {
		if n := rowsOf(t, db, id); n != 0 {
			t.Errorf("erased message %s keeps %d rows", id, n)
		}
		if erased, err := db.MessageErased(ctx, id); err != nil || !erased {
			t.Errorf("MessageErased(%s) = %v %v", id, erased, err)
		}
	}
	if n := rowsOf(t, db, kept); n != 6 {
		t.Errorf("the other portal's message has %d rows, want 6", n)
	}
	var unrouted int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM message_events WHERE message_id IS NULL`).Scan(&unrouted); err != nil || unrouted != 0 {
		t.Errorf("unrouted events naming the number = %d, %v", unrouted, err)
	}
	if off, _, _ := db.Suppressed(ctx, portal, "sms", number); !off {
		t.Error("the erased number's opt-out was lost")
	}

	// The running workflow's last step (its NOT_SENT) stores nothing again.
	msg := store.Message{ID: b, PortalID: portal, ObjectType: "contact", ObjectID: "501", Phone: number, Status: "SMS_NOT_SENT"}
	if err := db.Publish(ctx, store.Publication{Message: &msg,
		Event: &store.Event{MessageID: &b, Source: "workflow", SourceEventID: b + "/SMS_NOT_SENT", Kind: "status", OccurredAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordActionOutcome(ctx, b, map[string]string{"sms_status": "SMS_NOT_SENT"}); err != nil {
		t.Fatal(err)
	}
	if n := rowsOf(t, db, b); n != 0 {
		t.Errorf("a publication after the erasure stored %d rows again", n)
	}
	var clear int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE phone = $1 AND portal_id = $2`, number, portal).Scan(&clear); err != nil || clear != 0 {
		t.Errorf("messages of the number after the erasure = %d, %v", clear, err)
	}
}

package store_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"smsflow/store"
)

// publication is a status change of a message to contact 701 of portal 7, with its two outbox
// rows; apply counts how often the record's state was moved.
func publication(messageID, status string, apply *int) store.Publication {
	key := store.RecordKey{PortalID: 7, ObjectType: "contacts", ObjectID: "701"}
	return store.Publication{
		Message: &store.Message{ID: messageID, PortalID: 7, ObjectType: "contact", ObjectID: "701", Status: status},
		Event: &store.Event{MessageID: &messageID, Source: "workflow", SourceEventID: messageID + ":" + status, Kind: "status",
			Status: status, OccurredAt: time.Now()},
		Suppression: &store.SuppressionChange{PortalID: 7, Channel: "sms", Phone: "+33612345600", Reason: "stop_reply", MessageID: messageID},
		Outbox: []store.OutboxItem{{PortalID: 7, MessageID: messageID, Kind: store.OutboxTimeline, ObjectType: "contacts", ObjectID: "701",
			DedupeKey: "timeline:" + messageID + "-" + status, Payload: []byte(`{"status":"` + status + `"}`)}},
		Record: &store.RecordUpdate{Key: key,
			Item: store.OutboxItem{PortalID: 7, MessageID: messageID, Kind: store.OutboxProperties, ObjectType: "contacts", ObjectID: "701",
				DedupeKey: "properties:" + messageID + "-" + status},
			Apply: func(cur store.RecordState, at time.Time) (store.RecordState, []byte, bool) {
				*apply++
				n, _ := strconv.Atoi(cur.LastStatus)
				cur.LastMessageID, cur.LastMessageAt, cur.LastStatus = messageID, &at, strconv.Itoa(n+1)
				return cur, []byte(`{"last":true}`), true
			}},
	}
}

// A publication writes the message log, the suppression and the outbox in one transaction; a
// retried one enqueues nothing twice and moves the record's state once.
func TestPublishEnqueuesOnce(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	id := uuid.NewString()
	applied := 0
	for range 3 {
		if err := s.Publish(ctx, publication(id, "SMS_SENT", &applied)); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.OutboxOfMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Kind != store.OutboxTimeline || rows[1].Kind != store.OutboxProperties || string(rows[1].Payload) != `{"last": true}` {
		t.Fatalf("outbox rows = %+v, want one timeline and one properties row", rows)
	}
	if applied != 1 {
		t.Errorf("the record's state was moved %d times, want once", applied)
	}
	if m, err := s.GetMessage(ctx, id); err != nil || m.Status != "SMS_SENT" {
		t.Errorf("message = %+v, %v", m, err)
	}
	if off, _, _ := s.Suppressed(ctx, 7, "sms", "+33612345600"); !off {
		t.Error("the suppression was not written")
	}
	views, err := s.RecordViews(ctx, 7, []store.RecordKey{{PortalID: 7, ObjectType: "contacts", ObjectID: "701"}, {PortalID: 7, ObjectType: "contacts", ObjectID: "702"}})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := views[store.RecordKey{PortalID: 7, ObjectType: "contacts", ObjectID: "701"}]
	if len(views) != 1 || !ok || v.LastMessageID != id || v.LastStatus != "1" || v.LastMessageAt == nil {
		t.Errorf("record views = %+v, want contact 701's state only", views)
	}
}

// Publications of one record from many messages at once are applied one after the other: each
// sees the state the previous one left.
func TestRecordUpdatesAreSerialised(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var applied int
			errs[i] = s.Publish(ctx, publication(uuid.NewString(), "SMS_SENT", &applied))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	views, err := s.RecordViews(ctx, 7, []store.RecordKey{{PortalID: 7, ObjectType: "contacts", ObjectID: "701"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := views[store.RecordKey{PortalID: 7, ObjectType: "contacts", ObjectID: "701"}].LastStatus; got != strconv.Itoa(n) {
		t.Errorf("the record's counter = %s after %d concurrent updates, want %d: updates were lost", got, n, n)
	}
}

// enqueue puts n timeline rows for a portal in the outbox.
func enqueue(t *testing.T, s *store.Store, portal int64, n int) {
	t.Helper()
	items := make([]store.OutboxItem, n)
	for i := range items {
		items[i] = store.OutboxItem{PortalID: portal, MessageID: uuid.NewString(), Kind: store.OutboxTimeline, ObjectType: "contacts",
			ObjectID: strconv.Itoa(i), DedupeKey: fmt.Sprintf("timeline:%d:%d:%s", portal, i, uuid.NewString())}
	}
	if err := s.Enqueue(context.Background(), items...); err != nil {
		t.Fatal(err)
	}
}

// Claims are disjoint, also when they race; a claimed row stays out of other claims for its
// lease and comes due again after it; finishing, retrying and killing only apply to the claim's
// own rows.
func TestClaimOutbox(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	enqueue(t, s, 7, 200)
	now := time.Now().Add(time.Second)

	var wg sync.WaitGroup
	claims := make([][]store.OutboxRow, 4)
	ids := make([]string, 4)
	for i := range claims {
		ids[i] = uuid.NewString()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if claims[i], err = s.ClaimOutbox(ctx, 7, ids[i], now, time.Minute, 60); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[int64]int{}
	total := 0
	for i, c := range claims {
		total += len(c)
		for j, r := range c {
			seen[r.ID]++
			if j > 0 && r.ID <= c[j-1].ID {
				t.Errorf("claim %d is not in id order", i)
			}
		}
	}
	if total != 200 || len(seen) != 200 {
		t.Fatalf("4 racing claims of 60 took %d rows, %d distinct, want all 200 once", total, len(seen))
	}
	if again, err := s.ClaimOutbox(ctx, 7, uuid.NewString(), now, time.Minute, 500); err != nil || len(again) != 0 {
		t.Fatalf("a claim during the leases took %d rows (%v), want none", len(again), err)
	}

	a := claims[0]
	done, retried, killed := []int64{a[0].ID, a[1].ID}, []int64{a[2].ID}, []int64{a[3].ID}
	if err := s.FinishOutbox(ctx, ids[1], done, now); err != nil { // another claim's rows: no effect
		t.Fatal(err)
	}
	if err := s.FinishOutbox(ctx, ids[0], done, now); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryOutbox(ctx, ids[0], retried, now.Add(-time.Second), "503", true); err != nil {
		t.Fatal(err)
	}
	if err := s.KillOutbox(ctx, ids[0], killed, now, "400 VALIDATION_ERROR"); err != nil {
		t.Fatal(err)
	}
	due, err := s.ClaimOutbox(ctx, 7, uuid.NewString(), now, time.Minute, 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].ID != a[2].ID || due[0].Attempts != 1 {
		t.Fatalf("due after the fates = %+v, want the retried row with one attempt", due)
	}
	// After the leases, every row not finished is due again (a sender died holding them).
	later, err := s.ClaimOutbox(ctx, 7, uuid.NewString(), now.Add(2*time.Minute), time.Minute, 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(later) != 200-3 {
		t.Fatalf("after the leases %d rows are due, want %d (all but done and dead)", len(later), 200-3)
	}
}

// The portals with due rows, without the paused and the leased ones; a lease is exclusive until
// it ends or its owner releases it.
func TestOutboxPortalsAndLeases(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	for _, p := range []int64{3, 5, 9, 11} {
		enqueue(t, s, p, 3)
	}
	now := time.Now().Add(time.Second)
	if err := s.PauseOutboxPortal(ctx, 5, now.Add(time.Hour), "rate limited (DAILY)"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.LeaseOutboxPortal(ctx, 9, "a", now, time.Minute); err != nil || !ok {
		t.Fatalf("lease of a free portal: %v, %v", ok, err)
	}
	if ok, _ := s.LeaseOutboxPortal(ctx, 9, "b", now, time.Minute); ok {
		t.Fatal("a second owner leased a leased portal")
	}
	if ok, _ := s.LeaseOutboxPortal(ctx, 5, "b", now, time.Minute); ok {
		t.Fatal("a paused portal was leased")
	}
	if ok, _ := s.LeaseOutboxPortal(ctx, 9, "a", now, time.Minute); !ok {
		t.Fatal("the owner could not extend its lease")
	}
	got, err := s.OutboxPortals(ctx, now, "b", math.MinInt64, 10)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[3 11]" {
		t.Errorf("due portals = %v, want [3 11] (5 paused, 9 leased)", got)
	}
	// The lease's owner still finds its portal: a lease it could not release (the database away
	// at that moment) must not keep its rows waiting until the lease expires.
	if got, _ := s.OutboxPortals(ctx, now, "a", math.MinInt64, 10); fmt.Sprint(got) != "[3 9 11]" {
		t.Errorf("due portals of the lease's owner = %v, want [3 9 11]", got)
	}
	if err := s.ReleaseOutboxPortal(ctx, 9, "a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.OutboxPortals(ctx, now.Add(2*time.Hour), "b", math.MinInt64, 10); fmt.Sprint(got) != "[3 5 9 11]" {
		t.Errorf("due portals later = %v, want all four", got)
	}
	if until, reason, err := s.OutboxPause(ctx, 5); err != nil || !until.After(now) || reason != "rate limited (DAILY)" {
		t.Errorf("pause of portal 5 = %v %q %v", until, reason, err)
	}
	if got, _ := s.OutboxPortals(ctx, now, "b", 9, 1); fmt.Sprint(got) != "[11]" {
		t.Errorf("the first due portal after 9 = %v, want [11]", got)
	}
	if n, err := s.KillPortalOutbox(ctx, 11, now, "portal disconnected"); err != nil || n != 3 {
		t.Errorf("killed %d rows of portal 11 (%v), want 3", n, err)
	}
	if got, _ := s.OutboxPortals(ctx, now, "b", math.MinInt64, 10); fmt.Sprint(got) != "[3 9]" {
		t.Errorf("due portals after portal 11's rows died = %v, want [3 9]", got)
	}
	if n, err := s.PurgeOutbox(ctx, now.Add(time.Minute), 100); err != nil || n != 3 {
		t.Errorf("purged %d rows (%v), want portal 11's 3 finished rows", n, err)
	}
}

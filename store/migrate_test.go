package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"smsflow/internal/testenv"
	"smsflow/store"
)

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Two processes (an API and a worker) starting at once must apply each migration exactly once.
func TestMigrateConcurrently(t *testing.T) {
	url := testenv.Database(t)
	ctx := context.Background()
	a, b := open(t, url), open(t, url)
	if err := a.CheckMigrated(ctx); !errors.Is(err, store.ErrMigrationsPending) {
		t.Fatalf("CheckMigrated on an empty database = %v, want ErrMigrationsPending", err)
	}

	var wg sync.WaitGroup
	applied := make([][]string, 2)
	errs := make([]error, 2)
	for i, s := range []*store.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrate %d: %v", i, err)
		}
	}
	all, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(applied[0]) + len(applied[1]); got != len(all) {
		t.Fatalf("migrations applied %d times in all (%v, %v), want each of %d once", got, applied[0], applied[1], len(all))
	}
	var rows int
	if err := a.Pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(all) {
		t.Fatalf("schema_migrations has %d rows, want %d", rows, len(all))
	}
	if err := a.CheckMigrated(ctx); err != nil {
		t.Fatalf("CheckMigrated after migrating: %v", err)
	}
	// A third run finds nothing to do.
	again, err := a.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("third Migrate = %v, %v; want nothing applied", again, err)
	}
	for _, table := range []string{"messages", "message_events", "suppressions", "short_links", "quota_usage", "quota_limits", "templates", "portals", "oauth_tokens"} {
		var exists bool
		if err := a.Pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil || !exists {
			t.Errorf("table %s missing after migrations (err %v)", table, err)
		}
	}
}

func TestMessageAndEvents(t *testing.T) {
	s := open(t, testenv.Database(t))
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	id := "0b6f7a0e-2f57-4a8e-9a0c-1d2e3f4a5b6c"
	m := store.Message{ID: id, PortalID: 42, ObjectType: "contact", ObjectID: "7", Status: "PENDING", Text: "hello"}
	if err := s.SaveMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	m.Status, m.Segments = "SMS_SENT", 1
	if err := s.SaveMessage(ctx, m); err != nil { // a retried activity overwrites, never duplicates
		t.Fatal(err)
	}
	got, err := s.GetMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "SMS_SENT" || got.Segments != 1 || got.Channel != "sms" || got.PortalID != 42 {
		t.Fatalf("GetMessage = %+v", got)
	}
	if _, err := s.GetMessage(ctx, "7b6f7a0e-2f57-4a8e-9a0c-1d2e3f4a5b6c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetMessage(unknown) error = %v, want ErrNotFound", err)
	}

	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i, e := range []store.Event{
		{MessageID: &id, Source: "sim", SourceEventID: "ev-1", Kind: "delivery", Status: "sent", OccurredAt: at},
		{MessageID: &id, Source: "sim", SourceEventID: "ev-2", Kind: "delivery", Status: "delivered", OccurredAt: at.Add(time.Second)},
		{MessageID: &id, Source: "sim", SourceEventID: "ev-1", Kind: "delivery", Status: "sent", OccurredAt: at}, // duplicate report
	} {
		inserted, err := s.AddEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if want := i < 2; inserted != want {
			t.Errorf("event %d inserted = %v, want %v", i, inserted, want)
		}
	}
	events, err := s.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Status != "sent" || events[1].Status != "delivered" || events[0].Seq >= events[1].Seq {
		t.Fatalf("events = %+v, want sent then delivered once each", events)
	}
}

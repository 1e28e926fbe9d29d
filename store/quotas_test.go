package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"smsflow/internal/testenv"
	"smsflow/store"
)

func TestReserveQuota(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 23, 30, 0, 0, time.UTC)
	subjects := []store.QuotaSubject{{Scope: "sender", Subject: "ACME"}, {Scope: "user", Subject: "u1"}}
	if err := s.SetQuota(ctx, 7, "sender", "ACME", 2, 3, "defer"); err != nil {
		t.Fatal(err)
	}
	ids := []string{"00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002", "00000000-0000-0000-0000-000000000003"}
	for _, id := range ids[:2] {
		d, err := s.ReserveQuota(ctx, id, 7, subjects, now)
		if err != nil || !d.OK {
			t.Fatalf("reserve %s = %+v %v, want within the quota", id, d, err)
		}
	}
	// A retried check of a counted message is not counted again.
	if d, err := s.ReserveQuota(ctx, ids[1], 7, subjects, now); err != nil || !d.OK {
		t.Fatalf("retry = %+v %v", d, err)
	}
	d, err := s.ReserveQuota(ctx, ids[2], 7, subjects, now)
	if err != nil || d.OK || d.Scope != "sender" || d.Subject != "ACME" || d.Period != "2026-11-25" || d.Limit != 2 || d.OnExceed != "defer" ||
		!d.Resets.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("third message = %+v %v, want the sender's daily quota of 2 reached, defer, reset at the next UTC day", d, err)
	}
	// Nothing of the refused reservation was counted: the next day it fits, and the month has room for it.
	d, err = s.ReserveQuota(ctx, ids[2], 7, subjects, now.Add(time.Hour))
	if err != nil || !d.OK {
		t.Fatalf("next day = %+v %v", d, err)
	}
	if used, err := s.QuotaUsed(ctx, 7, "user", "u1", "2026-11"); err != nil || used != 3 {
		t.Fatalf("user's monthly count = %d %v, want 3", used, err)
	}
	// Default limits apply to a subject without its own: 5,000 a day.
	if err := s.SetQuota(ctx, 8, "user", "*", 1, 10, "reject"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.ReserveQuota(ctx, "00000000-0000-0000-0000-000000000010", 8, subjects, now); !d.OK {
		t.Fatalf("first message of portal 8 refused: %+v", d)
	}
	if d, _ := s.ReserveQuota(ctx, "00000000-0000-0000-0000-000000000011", 8, subjects, now); d.OK || d.Scope != "user" || d.OnExceed != "reject" {
		t.Fatalf("the '*' user limit of portal 8 not applied: %+v", d)
	}
	// A month reached resets at the next UTC month.
	if err := s.SetQuota(ctx, 9, "user", "u1", 100, 1, "defer"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.ReserveQuota(ctx, "00000000-0000-0000-0000-000000000020", 9, subjects, now); !d.OK {
		t.Fatalf("first message of portal 9 refused: %+v", d)
	}
	if d, _ := s.ReserveQuota(ctx, "00000000-0000-0000-0000-000000000021", 9, subjects, now); d.OK || d.Period != "2026-11" ||
		!d.Resets.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("monthly quota of portal 9 = %+v, want reached, reset on 2026-12-01", d)
	}
}

// migratedWithPool is migrated with a pool of conns connections, so that many reservations
// really run at once.
func migratedWithPool(t testing.TB, conns int32) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.OpenWithPoolSize(ctx, testenv.Database(t), conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// reserveAll reserves every id from workers goroutines at once (each id twice when retried, as
// a retried activity would) and returns how many distinct ids were let through, and the
// refusals of the others.
func reserveAll(t *testing.T, s *store.Store, portalID int64, ids []string, subjects []store.QuotaSubject, now time.Time,
	workers int, retried bool) (ok int, refused []store.QuotaDecision) {
	t.Helper()
	work := make(chan string)
	var mu sync.Mutex
	passed := map[string]bool{}
	refusals := map[string]store.QuotaDecision{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				d, err := s.ReserveQuota(context.Background(), id, portalID, subjects, now)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if d.OK {
					passed[id] = true
				} else {
					refusals[id] = d
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		work <- id
		if retried {
			work <- id
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id, d := range refusals {
		if passed[id] {
			t.Fatalf("message %s both let through and refused", id)
		}
		refused = append(refused, d)
	}
	return len(passed), refused
}

func messageIDs(prefix int, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", prefix, i)
	}
	return ids
}

// Many messages of one sender reserved at once, near and past the limit: exactly the limit goes
// through (none over, none refused while capacity is left on another shard), and a retried
// message counts once.
func TestReserveQuotaExactUnderConcurrency(t *testing.T) {
	s := migratedWithPool(t, 24)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	subjects := []store.QuotaSubject{{Scope: "sender", Subject: "ACME"}, {Scope: "user", Subject: "u1"}}
	const limit = 397 // not a multiple of a block: the last messages take capacity back from other shards
	if err := s.SetQuota(ctx, 7, "sender", "ACME", limit, 100000, "defer"); err != nil {
		t.Fatal(err)
	}
	ids := messageIDs(1, 600)
	ok, refused := reserveAll(t, s, 7, ids, subjects, now, 20, true)
	if ok != limit || len(refused) != len(ids)-limit {
		t.Fatalf("%d messages went through and %d were refused, want %d and %d", ok, len(refused), limit, len(ids)-limit)
	}
	for _, d := range refused {
		if d.Scope != "sender" || d.Subject != "ACME" || d.Period != "2026-11-25" || d.Limit != limit || d.OnExceed != "defer" {
			t.Fatalf("refusal %+v, want the sender's day", d)
		}
	}
	for _, c := range []struct{ scope, subject, period string }{
		{"sender", "ACME", "2026-11-25"}, {"sender", "ACME", "2026-11"}, {"user", "u1", "2026-11-25"}, {"user", "u1", "2026-11"},
	} {
		if used, err := s.QuotaUsed(ctx, 7, c.scope, c.subject, c.period); err != nil || used != limit {
			t.Errorf("%s %s %s counted %d (%v), want %d: refused messages count nowhere, retries once", c.scope, c.subject, c.period, used, err, limit)
		}
	}
	// The messages did spread over shards, and no shard holds capacity beyond the pool's grant.
	var shards, allotted, granted int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*), sum(allotted), (SELECT granted FROM quota_usage
WHERE portal_id = 7 AND scope = 'sender' AND period = '2026-11-25') FROM quota_usage_shards
WHERE portal_id = 7 AND scope = 'sender' AND period = '2026-11-25'`).Scan(&shards, &allotted, &granted); err != nil {
		t.Fatal(err)
	}
	if shards < 8 || allotted != granted || granted > limit {
		t.Fatalf("%d shards allotted %d of a grant of %d, want ≥ 8 shards, allotted = granted ≤ %d", shards, allotted, granted, limit)
	}
	// The next day counts afresh; the month keeps counting.
	ok, _ = reserveAll(t, s, 7, messageIDs(2, 10), subjects, now.AddDate(0, 0, 1), 5, false)
	if used, _ := s.QuotaUsed(ctx, 7, "sender", "ACME", "2026-11"); ok != 10 || used != limit+10 {
		t.Fatalf("next day: %d through, month counted %d, want 10 and %d", ok, used, limit+10)
	}
}

// A limit changed within a period applies at once to the capacity already handed to shards.
func TestReserveQuotaLimitChanged(t *testing.T) {
	s := migratedWithPool(t, 12)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	subjects := []store.QuotaSubject{{Scope: "sender", Subject: "ACME"}}
	if err := s.SetQuota(ctx, 7, "sender", "ACME", 1000, 100000, "reject"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := reserveAll(t, s, 7, messageIDs(1, 50), subjects, now, 8, false); ok != 50 {
		t.Fatalf("%d of 50 through under a limit of 1000", ok)
	}
	if err := s.SetQuota(ctx, 7, "sender", "ACME", 60, 100000, "reject"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := reserveAll(t, s, 7, messageIDs(2, 40), subjects, now, 8, false); ok != 10 {
		t.Fatalf("%d through after lowering the limit to 60 with 50 counted, want 10", ok)
	}
	if err := s.SetQuota(ctx, 7, "sender", "ACME", 75, 100000, "reject"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := reserveAll(t, s, 7, messageIDs(3, 40), subjects, now, 8, false); ok != 15 {
		t.Fatalf("%d through after raising the limit to 75 with 60 counted, want 15", ok)
	}
}

// The month's limit binds across days; what workers counted on the pool row before sharding
// still counts.
func TestReserveQuotaMonthAndEarlierCounts(t *testing.T) {
	s := migratedWithPool(t, 12)
	ctx := context.Background()
	day1 := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	subjects := []store.QuotaSubject{{Scope: "user", Subject: "u1"}}
	if err := s.SetQuota(ctx, 9, "user", "u1", 100, 30, "defer"); err != nil {
		t.Fatal(err)
	}
	// Counted by a worker of the single-row scheme.
	if _, err := s.Pool.Exec(ctx, `INSERT INTO quota_usage (portal_id, scope, subject, period, used) VALUES (9, 'user', 'u1', '2026-11', 5)`); err != nil {
		t.Fatal(err)
	}
	if ok, _ := reserveAll(t, s, 9, messageIDs(1, 20), subjects, day1, 6, false); ok != 20 {
		t.Fatalf("day 1: %d of 20 through", ok)
	}
	ok, refused := reserveAll(t, s, 9, messageIDs(2, 20), subjects, day1.AddDate(0, 0, 1), 6, true)
	if ok != 5 || len(refused) != 15 {
		t.Fatalf("day 2: %d through, %d refused; want 5 (30 a month, 5 counted before, 20 on day 1) and 15", ok, len(refused))
	}
	d := refused[0]
	if d.Period != "2026-11" || d.Limit != 30 || d.OnExceed != "defer" || !d.Resets.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("refusal %+v, want the month of 30, reset on 2026-12-01", d)
	}
	if ok, _ := reserveAll(t, s, 9, messageIDs(3, 5), subjects, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 3, false); ok != 5 {
		t.Fatalf("next month: %d of 5 through", ok)
	}
}

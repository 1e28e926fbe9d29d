package store_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"smsflow/store"
)

// Concurrent reservations of one lane get slots exactly one interval apart, whatever their
// order, for each class's rate; a retried reservation gets its slot again and moves nothing.
func TestReserveSlotPacesConcurrentReservations(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		class string
		rate  float64
	}{{"long_code", 1}, {"toll_free", 3}, {"short_code", 100}} {
		t.Run(c.class, func(t *testing.T) {
			interval := store.SlotInterval(time.Duration(float64(time.Second) / c.rate))
			lane := "sender:" + c.class
			const n = 40
			ids := make([]string, n)
			slots := make([]time.Time, n)
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range ids {
				ids[i] = uuid.NewString()
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					slot, err := s.ReserveSlot(ctx, ids[i], lane, start, interval)
					slots[i] = slot
					errs <- err
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			sorted := append([]time.Time(nil), slots...)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i].Before(sorted[j]) })
			if !sorted[0].Equal(start) {
				t.Fatalf("first slot %v, want %v", sorted[0], start)
			}
			for i := 1; i < n; i++ {
				if gap := sorted[i].Sub(sorted[i-1]); gap != interval {
					t.Fatalf("slots %d and %d are %v apart, want %v", i-1, i, gap, interval)
				}
			}
			again, err := s.ReserveSlot(ctx, ids[7], lane, start.Add(time.Hour), interval)
			if err != nil || !again.Equal(slots[7]) {
				t.Fatalf("retried reservation = %v, %v; want %v", again, err, slots[7])
			}
			next, err := s.ReserveSlot(ctx, uuid.NewString(), lane, start, interval)
			if err != nil || !next.Equal(sorted[n-1].Add(interval)) {
				t.Fatalf("next reservation = %v, %v; want right after the last, %v", next, err, sorted[n-1].Add(interval))
			}
		})
	}
}

// A slot left unused for more than SlotLifetime (the message went back to a hold) is replaced
// by a new one when the message comes back.
func TestReserveSlotRenewsAStaleSlot(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	id := uuid.NewString()
	first, err := s.ReserveSlot(ctx, id, "sender:R", t0, time.Second)
	if err != nil || !first.Equal(t0) {
		t.Fatalf("first = %v, %v", first, err)
	}
	if _, err := s.ReserveSlot(ctx, uuid.NewString(), "sender:R", t0.Add(5*time.Hour), time.Second); err != nil {
		t.Fatal(err)
	}
	if again, err := s.ReserveSlot(ctx, id, "sender:R", t0.Add(30*time.Minute), time.Second); err != nil || !again.Equal(t0) {
		t.Fatalf("within the lifetime = %v, %v; want %v", again, err, t0)
	}
	later := t0.Add(5 * time.Hour)
	renewed, err := s.ReserveSlot(ctx, id, "sender:R", later, time.Second)
	if err != nil || !renewed.Equal(later.Add(time.Second)) {
		t.Fatalf("after the lifetime = %v, %v; want a new slot %v", renewed, err, later.Add(time.Second))
	}
	if again, err := s.ReserveSlot(ctx, id, "sender:R", later, time.Second); err != nil || !again.Equal(renewed) {
		t.Fatalf("retried = %v, %v; want %v", again, err, renewed)
	}
}

// A lane left idle starts again at the instant asked, not at its old cursor; lanes are
// independent.
func TestReserveSlotIdleLane(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	if _, err := s.ReserveSlot(ctx, uuid.NewString(), "sender:A", t0, time.Second); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Hour)
	if got, err := s.ReserveSlot(ctx, uuid.NewString(), "sender:A", later, time.Second); err != nil || !got.Equal(later) {
		t.Fatalf("idle lane slot = %v, %v; want %v", got, err, later)
	}
	if got, err := s.ReserveSlot(ctx, uuid.NewString(), "sender:B", t0, time.Second); err != nil || !got.Equal(t0) {
		t.Fatalf("other lane slot = %v, %v; want %v", got, err, t0)
	}
}

// A portal's own rate for a sender overrides its class's; 0 goes back to the class.
func TestSenderRate(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	if err := s.AddSender(ctx, 7, "+15551230001", false, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.SenderRate(ctx, 7, "+15551230001"); ok || err != nil {
		t.Fatalf("rate before one is set: %v, %v", ok, err)
	}
	if err := s.SetSenderRate(ctx, 7, "15551230001", 4.5); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := s.SenderRate(ctx, 7, "+15551230001"); r != 4.5 || !ok || err != nil {
		t.Fatalf("rate = %v, %v, %v; want 4.5", r, ok, err)
	}
	if _, ok, _ := s.SenderRate(ctx, 8, "+15551230001"); ok {
		t.Fatal("another portal's rate applied")
	}
	if err := s.SetSenderRate(ctx, 7, "+15551230001", 0); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.SenderRate(ctx, 7, "+15551230001"); ok {
		t.Fatal("rate still set after 0")
	}
	if err := s.SetSenderRate(ctx, 7, "NOTOURS", 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rate of an unknown sender: %v", err)
	}
}

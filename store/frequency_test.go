package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"smsflow/store"
)

var caps = []store.FrequencyCap{{Max: 3, Per: 24 * time.Hour}, {Max: 10, Per: 7 * 24 * time.Hour}}

// The fourth message in 24 hours is capped until the first leaves the period; a retried check
// counts once; another recipient or portal is counted apart.
func TestCountFrequency(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()}
	for i, id := range ids[:3] {
		d, err := s.CountFrequency(ctx, id, 7, "hash-a", caps, t0.Add(time.Duration(i)*time.Hour))
		if err != nil || !d.OK {
			t.Fatalf("message %d = %+v, %v; want counted", i, d, err)
		}
	}
	if d, err := s.CountFrequency(ctx, ids[2], 7, "hash-a", caps, t0.Add(3*time.Hour)); err != nil || !d.OK {
		t.Fatalf("retried check = %+v, %v; want it counted already", d, err)
	}
	d, err := s.CountFrequency(ctx, ids[3], 7, "hash-a", caps, t0.Add(3*time.Hour))
	if err != nil || d.OK || d.Cap != caps[0] || d.Count != 3 || !d.FreesAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("fourth = %+v, %v; want capped by 3/24h until %v", d, err, t0.Add(24*time.Hour))
	}
	for _, other := range []struct {
		portal int64
		hash   string
	}{{7, "hash-b"}, {8, "hash-a"}} {
		if d, err := s.CountFrequency(ctx, uuid.NewString(), other.portal, other.hash, caps, t0.Add(3*time.Hour)); err != nil || !d.OK {
			t.Fatalf("portal %d %s = %+v, %v; want counted apart", other.portal, other.hash, d, err)
		}
	}
	if d, err := s.CountFrequency(ctx, ids[3], 7, "hash-a", caps, t0.Add(24*time.Hour+time.Second)); err != nil || !d.OK {
		t.Fatalf("a day later = %+v, %v; want counted", d, err)
	}
	// Taken back, the count frees room at once.
	if err := s.UncountFrequency(ctx, ids[3]); err != nil {
		t.Fatal(err)
	}
	if d, err := s.CountFrequency(ctx, uuid.NewString(), 7, "hash-a", caps, t0.Add(24*time.Hour+2*time.Second)); err != nil || !d.OK {
		t.Fatalf("after the uncount = %+v, %v; want counted", d, err)
	}
}

// The weekly cap: 10 messages over 7 days, 3 a day at most; the eleventh waits until the week's
// first message leaves it.
func TestCountFrequencyWeekly(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 16 * time.Hour) } // 1.5 a day
	for i := 0; i < 10; i++ {
		if d, err := s.CountFrequency(ctx, uuid.NewString(), 7, "hash-w", caps, at(i)); err != nil || !d.OK {
			t.Fatalf("message %d = %+v, %v", i, d, err)
		}
	}
	d, err := s.CountFrequency(ctx, uuid.NewString(), 7, "hash-w", caps, at(10))
	if err != nil || d.OK || d.Cap != caps[1] || d.Count != 10 || !d.FreesAt.Equal(t0.Add(7*24*time.Hour)) {
		t.Fatalf("eleventh = %+v, %v; want capped by 10/7d until %v", d, err, t0.Add(7*24*time.Hour))
	}
}

// Concurrent checks of many messages to one recipient count exactly the cap's number.
func TestCountFrequencyConcurrent(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	const n = 24
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, capped := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := s.CountFrequency(ctx, uuid.NewString(), 7, "hash-c", caps, now)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case d.OK:
				ok++
			default:
				capped++
			}
		}()
	}
	wg.Wait()
	if ok != 3 || capped != n-3 {
		t.Fatalf("%d counted, %d capped; want 3 and %d", ok, capped, n-3)
	}
	var rows int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM frequency_sends WHERE phone_hash = 'hash-c'`).Scan(&rows); err != nil || rows != 3 {
		t.Fatalf("rows = %d, %v; want 3", rows, err)
	}
}

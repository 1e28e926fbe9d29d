package hubspot_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"smsflow/hubspot"
	"smsflow/internal/testenv"
)

// portalID is the portal of the budget tests.
const portalID = int64(62515)

// Two limiters over one database (two processes) never grant more than Limit calls in any
// Window, counted when the calls are made (up to BlockTTL after their block was granted), and
// together they still get about the budget's rate.
func TestLimitersSharingADatabaseStayUnderTheLimit(t *testing.T) {
	db := testenv.Store(t)
	const limit, window = 20, 2 * time.Second
	newLimiter := func() *hubspot.Limiter {
		return &hubspot.Limiter{Store: db, Limit: limit, Window: window, Slack: 300 * time.Millisecond,
			Block: 3, BlockTTL: 100 * time.Millisecond, MaxWait: time.Minute}
	}
	limiters := []*hubspot.Limiter{newLimiter(), newLimiter()}
	ctx, cancel := context.WithCancel(context.Background())
	defer time.AfterFunc(5*time.Second, cancel).Stop()
	var (
		mu    sync.Mutex
		calls []time.Time
		wg    sync.WaitGroup
	)
	for _, l := range limiters {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					err := l.Take(ctx, portalID, hubspot.LaneBulk)
					if err != nil {
						if ctx.Err() == nil {
							t.Errorf("take: %v", err)
						}
						return
					}
					mu.Lock()
					calls = append(calls, time.Now())
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	sort.Slice(calls, func(i, j int) bool { return calls[i].Before(calls[j]) })
	most := 0
	for i := range calls {
		j := i
		for j < len(calls) && calls[j].Sub(calls[i]) < window {
			j++
		}
		most = max(most, j-i)
	}
	if most > limit {
		t.Errorf("%d calls within %s, limit %d", most, window, limit)
	}
	// 5 s at (limit−burst)/(window+slack) a second after a burst of limit/10, less the reserve
	// the backlog leaves and the blocks that expired unused.
	if len(calls) < 25 {
		t.Errorf("%d calls in 5 s: the limiters starve each other", len(calls))
	}
	t.Logf("%d calls in 5 s, at most %d in any %s", len(calls), most, window)
}

// The day's budget stops the backlog and reads 2 % before its end, completions at its end; the
// portal's next day starts afresh; a portal's hubspot_daily_limit setting overrides the default.
func TestLimiterDailyLimit(t *testing.T) {
	db := testenv.Store(t)
	ctx := context.Background()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 22, 30, 0, 0, time.UTC) // 23:30 in Paris
	l := &hubspot.Limiter{Store: db, Limit: 1_000_000, Daily: 100, Block: 1, MaxWait: time.Millisecond,
		Now: func() time.Time { return now }, TimeZone: func(context.Context, int64) *time.Location { return paris }}
	takeAll := func(lane hubspot.Lane) (int, error) {
		for n := 0; ; n++ {
			if err := l.Take(ctx, portalID, lane); err != nil {
				return n, err
			}
		}
	}
	n, err := takeAll(hubspot.LaneBulk)
	var rl *hubspot.RateLimitedError
	if n != 98 || !errors.As(err, &rl) || rl.Policy != hubspot.PolicyDaily {
		t.Fatalf("backlog took %d calls then %v; want 98 then the DAILY budget", n, err)
	}
	if want := 31 * time.Minute; rl.RetryAfter != want { // Paris midnight, and a minute
		t.Errorf("retry after %s, want %s", rl.RetryAfter, want)
	}
	if n, _ := takeAll(hubspot.LaneRead); n != 0 {
		t.Errorf("reads took %d calls of the completions' share", n)
	}
	if n, _ := takeAll(hubspot.LaneCompletion); n != 2 {
		t.Errorf("completions took %d calls, want the 2 kept for them", n)
	}
	now = now.Add(31 * time.Minute) // the next day in Paris
	if err := l.Take(ctx, portalID, hubspot.LaneBulk); err != nil {
		t.Errorf("the next day: %v", err)
	}

	if err := db.SetPortalSettings(ctx, portalID+1, map[string]any{"hubspot_daily_limit": 5}); err != nil {
		t.Fatal(err)
	}
	n = 0
	for l.Take(ctx, portalID+1, hubspot.LaneCompletion) == nil {
		n++
	}
	if n != 5 {
		t.Errorf("a portal whose daily limit is 5 made %d calls", n)
	}
}

// While the backlog has spent its part of the bucket, reads still find calls, and completions
// find the last ones; a completion waits only for the bucket's next call.
func TestLimiterGivesCompletionsPriority(t *testing.T) {
	db := testenv.Store(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := &hubspot.Limiter{Store: db, Limit: 100, Block: 1, MaxWait: time.Millisecond, Now: clock}
	count := func(lane hubspot.Lane) int {
		for n := 0; ; n++ {
			if err := l.Take(ctx, portalID, lane); err != nil {
				var rl *hubspot.RateLimitedError
				if !errors.As(err, &rl) || rl.Policy != hubspot.PolicyBudget {
					t.Fatalf("%s: %v", lane, err)
				}
				return n
			}
		}
	}
	// A burst of 10: the backlog leaves 5, reads leave 3.
	if b, r, c := count(hubspot.LaneBulk), count(hubspot.LaneRead), count(hubspot.LaneCompletion); b != 5 || r != 2 || c != 3 {
		t.Errorf("backlog %d, reads %d, completions %d calls of a burst of 10; want 5, 2, 3", b, r, c)
	}
	// The bucket refills at 90 calls per 12 s: the next call is a completion's 134 ms later,
	// while the backlog waits for six.
	mu.Lock()
	now = now.Add(140 * time.Millisecond)
	mu.Unlock()
	if count(hubspot.LaneBulk) != 0 || count(hubspot.LaneCompletion) != 1 {
		t.Error("after one call's refill the backlog went, or the completion did not")
	}
	// On the database's clock, a completion waiting inside Take gets its call once it is there.
	l2 := &hubspot.Limiter{Store: db, Limit: 100, Block: 1, MaxWait: time.Millisecond}
	for l2.Take(ctx, portalID+1, hubspot.LaneCompletion) == nil {
	}
	l2.MaxWait = time.Second
	start := time.Now()
	if err := l2.Take(ctx, portalID+1, hubspot.LaneCompletion); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > 500*time.Millisecond {
		t.Errorf("a completion waited %s", waited)
	}
}

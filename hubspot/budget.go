package hubspot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"smsflow/store"
)

// Lane is a call's priority in its portal's budget.
type Lane int

// Lanes, lowest priority first: the outbox's backlog (timeline events, notes, properties, the
// install's set-up), the reads a waiting message needs, and action completions, which HubSpot's
// workflows wait on.
const (
	LaneBulk Lane = iota
	LaneRead
	LaneCompletion
)

// String names the lane in logs.
func (l Lane) String() string {
	switch l {
	case LaneRead:
		return "read"
	case LaneCompletion:
		return "completion"
	}
	return "bulk"
}

// PolicyBudget names the wait our own budget imposes, when it is too long to spend inside a call.
const PolicyBudget = "SMSFLOW_BUDGET"

// Budget is what a call takes before it goes to HubSpot: a portal's share of HubSpot's limits.
// Take waits for it, or returns a *RateLimitedError saying how long the caller should wait.
type Budget interface {
	Take(ctx context.Context, portalID int64, lane Lane) error
}

// BudgetStore keeps the budgets (store.Store, in PostgreSQL: shared by every process).
type BudgetStore interface {
	TakeHubSpotBudget(ctx context.Context, t store.BudgetTake) (store.BudgetGrant, error)
}

// Limiter is the Budget of every portal, kept in PostgreSQL so that all the workers and the API
// share one budget per portal. The ten-secondly limit is a token bucket: Limit calls in any
// Window+Slack, so HubSpot, which counts a rolling Window, never sees more than Limit even when
// the calls of a block are made up to BlockTTL after it was granted and reach HubSpot late. The
// daily limit counts the calls of the portal's day (in its time zone, as HubSpot resets it).
//
// Completions may use the whole budget; reads may not use the bucket's last 30 % nor the day's
// last 2 %; the backlog not the bucket's last half nor the day's last 2 %. So while a backlog
// drains at the bucket's rate, a completion finds its call at once, and a day spent on
// timeline writes still completes actions.
type Limiter struct {
	Store BudgetStore
	// Limit calls per Window (default 100 per 10 s: HubSpot's 110 for OAuth apps, minus
	// headroom).
	Limit  int
	Window time.Duration
	// Daily is the calls a portal may make in its day (default 250,000); a portal's
	// hubspot_daily_limit setting overrides it.
	Daily int64
	// Slack is how late after its grant a call may reach HubSpot (default 2 s, BlockTTL included).
	Slack time.Duration
	// Block is how many calls a process takes at once for a portal and lane (default 4), and
	// BlockTTL how long it may use them (default 500 ms); unused ones are lost.
	Block    int
	BlockTTL time.Duration
	// MaxWait is the longest wait spent inside Take (default 15 s, and never past the context's
	// deadline); a longer one is returned as a *RateLimitedError.
	MaxWait time.Duration
	// TimeZone is the portal's time zone, when its day starts (nil or nil result: UTC).
	TimeZone func(ctx context.Context, portalID int64) *time.Location
	// Now is the clock of the takes; nil: the database's, which every process shares.
	Now func() time.Time

	once  sync.Once
	rate  float64
	burst float64
	mu    sync.Mutex
	held  map[heldKey]heldCalls
}

type heldKey struct {
	portal int64
	lane   Lane
}

// heldCalls are calls a process took in a block and has not made yet.
type heldCalls struct {
	n     int
	until time.Time
}

func (l *Limiter) defaults() {
	l.once.Do(func() {
		if l.Limit <= 0 {
			l.Limit = 100
		}
		if l.Window <= 0 {
			l.Window = 10 * time.Second
		}
		if l.Daily <= 0 {
			l.Daily = 250_000
		}
		if l.Slack <= 0 {
			l.Slack = 2 * time.Second
		}
		if l.Block <= 0 {
			l.Block = 4
		}
		if l.BlockTTL <= 0 {
			l.BlockTTL = 500 * time.Millisecond
		}
		if l.MaxWait <= 0 {
			l.MaxWait = 15 * time.Second
		}
		// Any span of Window+Slack grants at most burst + rate×(Window+Slack) = Limit calls.
		l.burst = max(1, float64(l.Limit)/10)
		l.rate = (float64(l.Limit) - l.burst) / (l.Window + l.Slack).Seconds()
		l.held = map[heldKey]heldCalls{}
	})
}

// reserve is the part of the bucket (calls) and of the day (a share) a lane leaves to the lanes
// above it.
func (l *Limiter) reserve(lane Lane) (bucket, day float64) {
	switch lane {
	case LaneCompletion:
		return 0, 0
	case LaneRead:
		return l.burst * 0.3, 0.02
	}
	return l.burst * 0.5, 0.02
}

// Take takes one call of the portal's budget for lane, waiting while the bucket is empty.
func (l *Limiter) Take(ctx context.Context, portalID int64, lane Lane) error {
	l.defaults()
	if l.fromHeld(portalID, lane) {
		return nil
	}
	start := time.Now()
	for {
		now, loc := l.now(), l.location(ctx, portalID)
		res, day := l.reserve(lane)
		t := store.BudgetTake{PortalID: portalID, Want: l.Block, Reserve: res, Rate: l.rate, Burst: l.burst,
			Daily: l.Daily, DailyReserve: day, Day: l.dayOf(now, loc)}
		if l.Now != nil {
			t.Now = now
		}
		g, err := l.Store.TakeHubSpotBudget(ctx, t)
		if err != nil {
			return &TemporaryError{Err: err}
		}
		if g.Granted > 0 {
			l.hold(portalID, lane, g.Granted-1)
			return nil
		}
		if g.DaySpent {
			return budgetSpent(PolicyDaily, UntilNextDay(now, loc),
				fmt.Sprintf("portal %d spent its daily budget (%d of %d calls)", portalID, g.UsedToday, g.DailyLimit))
		}
		wait := max(g.Wait, 5*time.Millisecond)
		if time.Since(start)+wait > l.MaxWait || pastDeadline(ctx, wait) {
			return budgetSpent(PolicyBudget, wait, fmt.Sprintf("portal %d: no %s call left in its ten-secondly budget", portalID, lane))
		}
		if err := sleepContext(ctx, wait); err != nil {
			return err
		}
	}
}

// budgetSpent is the error of a take that cannot wait: a rate limit of our own, handled as
// HubSpot's (the caller waits RetryAfter).
func budgetSpent(policy string, wait time.Duration, msg string) *RateLimitedError {
	return &RateLimitedError{Policy: policy, RetryAfter: wait, API: &APIError{Method: "BUDGET", Path: "smsflow", Category: policy, Message: msg}}
}

func pastDeadline(ctx context.Context, wait time.Duration) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < wait
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Limiter) location(ctx context.Context, portalID int64) *time.Location {
	if l.TimeZone != nil {
		if loc := l.TimeZone(ctx, portalID); loc != nil {
			return loc
		}
	}
	return time.UTC
}

// dayOf is the portal's calendar day at now.
func (l *Limiter) dayOf(now time.Time, loc *time.Location) time.Time {
	d := now.In(loc)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

func (l *Limiter) fromHeld(portalID int64, lane Lane) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := heldKey{portalID, lane}
	h := l.held[k]
	if h.n <= 0 || !time.Now().Before(h.until) {
		delete(l.held, k)
		return false
	}
	h.n--
	l.held[k] = h
	return true
}

func (l *Limiter) hold(portalID int64, lane Lane, n int) {
	if n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[heldKey{portalID, lane}] = heldCalls{n: n, until: time.Now().Add(l.BlockTTL)}
}

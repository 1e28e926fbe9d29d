package store

import (
	"context"
	"fmt"
	"time"
)

// BudgetTake asks a portal's HubSpot budget for calls (see hubspot_budget_take in migration 0013).
type BudgetTake struct {
	PortalID int64
	Want     int
	// Reserve is the share of the bucket this caller may not use (kept for higher priorities).
	Reserve float64
	// Rate (tokens a second) and Burst (the bucket's size) shape the ten-secondly limit.
	Rate, Burst float64
	// Daily is the day's limit unless the portal's hubspot_daily_limit setting overrides it;
	// DailyReserve the share of it (0–1) this caller may not use.
	Daily        int64
	DailyReserve float64
	// Day is the portal's current day (HubSpot resets the daily limit at midnight in the
	// portal's time zone).
	Day time.Time
	// Now is the time of the take; zero: the database's clock, shared by every process.
	Now time.Time
}

// BudgetGrant is what a take got.
type BudgetGrant struct {
	Granted int
	// Wait is when the bucket will hold enough for this caller, when nothing was granted.
	Wait time.Duration
	// DaySpent says the day's budget is what is missing.
	DaySpent   bool
	UsedToday  int64
	DailyLimit int64
}

// TakeHubSpotBudget takes up to Want calls from a portal's budget in one statement; the portal's
// row is locked only for that statement.
func (s *Store) TakeHubSpotBudget(ctx context.Context, t BudgetTake) (BudgetGrant, error) {
	var now *time.Time
	if !t.Now.IsZero() {
		now = &t.Now
	}
	day := t.Day.Format(time.DateOnly)
	var g BudgetGrant
	var wait float64
	err := s.Pool.QueryRow(ctx, `SELECT granted, wait_seconds, day_spent, used_today, daily_limit
	FROM hubspot_budget_take($1, $2, $3, $4, $5, $6, $7, $8::text::date, $9)`,
		t.PortalID, t.Want, t.Reserve, t.Rate, t.Burst, t.Daily, t.DailyReserve, day, now).
		Scan(&g.Granted, &wait, &g.DaySpent, &g.UsedToday, &g.DailyLimit)
	if err != nil {
		return BudgetGrant{}, fmt.Errorf("store: hubspot budget of portal %d: %w", t.PortalID, err)
	}
	g.Wait = time.Duration(wait * float64(time.Second))
	return g, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Default quotas of a portal that set none.
const (
	DefaultQuotaPerDay   = 5000
	DefaultQuotaPerMonth = 10000
)

// QuotaSubject is what a quota counts: a sender number or a sending user.
type QuotaSubject struct {
	Scope   string // sender | user
	Subject string
}

// QuotaDecision is the outcome of ReserveQuota.
type QuotaDecision struct {
	OK       bool
	Scope    string // the quota reached, when !OK
	Subject  string
	Period   string // the day or month reached
	Limit    int
	OnExceed string // reject | defer
	// Resets is when the period reached ends: the start of the next UTC day or month, from which
	// the message may be counted again.
	Resets time.Time
}

// ReserveQuota counts the message against every subject's day and month quotas, all or nothing.
// Periods are UTC days and months.
// A message counted before (a retried activity) is not counted again.
func (s *Store) ReserveQuota(ctx context.Context, messageID string, portalID int64, subjects []QuotaSubject, now time.Time) (QuotaDecision, error) {
	day, month := now.UTC().Format("2006-01-02"), now.UTC().Format("2006-01")
	var out QuotaDecision
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO quota_reservations (message_id, portal_id, day, month) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING`, messageID, portalID, day, month)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			out.OK = true
			return nil
		}
		for _, sub := range subjects {
			if sub.Subject == "" {
				continue
			}
			perDay, perMonth, onExceed := DefaultQuotaPerDay, DefaultQuotaPerMonth, "reject"
			err := tx.QueryRow(ctx, `SELECT per_day, per_month, on_exceed FROM quota_limits
WHERE portal_id = $1 AND scope = $2 AND subject IN ($3, '*') ORDER BY subject = '*' LIMIT 1`,
				portalID, sub.Scope, sub.Subject).Scan(&perDay, &perMonth, &onExceed)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			for _, p := range []struct {
				period string
				limit  int
			}{{day, perDay}, {month, perMonth}} {
				var used int
				if err := tx.QueryRow(ctx, `INSERT INTO quota_usage (portal_id, scope, subject, period, used) VALUES ($1, $2, $3, $4, 1)
ON CONFLICT (portal_id, scope, subject, period) DO UPDATE SET used = quota_usage.used + 1 RETURNING used`,
					portalID, sub.Scope, sub.Subject, p.period).Scan(&used); err != nil {
					return err
				}
				if used > p.limit {
					out = QuotaDecision{Scope: sub.Scope, Subject: sub.Subject, Period: p.period, Limit: p.limit, OnExceed: onExceed,
						Resets: periodEnd(now, p.period == month)}
					return errQuotaExceeded
				}
			}
		}
		out.OK = true
		return nil
	})
	if errors.Is(err, errQuotaExceeded) {
		return out, nil // rolled back: nothing counted
	}
	if err != nil {
		return QuotaDecision{}, fmt.Errorf("store: reserve quota: %w", err)
	}
	return out, nil
}

var errQuotaExceeded = errors.New("quota exceeded")

// periodEnd is the start of the UTC day (or month) after now's.
func periodEnd(now time.Time, monthly bool) time.Time {
	now = now.UTC()
	if monthly {
		return time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
}

// SetQuota sets a portal's limits for a subject ('*' for every subject of the scope).
func (s *Store) SetQuota(ctx context.Context, portalID int64, scope, subject string, perDay, perMonth int, onExceed string) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO quota_limits (portal_id, scope, subject, per_day, per_month, on_exceed)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (portal_id, scope, subject) DO UPDATE
SET per_day = EXCLUDED.per_day, per_month = EXCLUDED.per_month, on_exceed = EXCLUDED.on_exceed`,
		portalID, scope, subject, perDay, perMonth, onExceed)
	return err
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"smsflow/store"
)

// reserveOnOneRow is the reservation ReserveQuota replaced, kept as the benchmark's baseline:
// every message of a subject increments the period's one row in quota_usage, holding its lock
// until the commit.
func reserveOnOneRow(ctx context.Context, s *store.Store, messageID string, portalID int64, subjects []store.QuotaSubject, now time.Time) (bool, error) {
	day, month := now.UTC().Format("2006-01-02"), now.UTC().Format("2006-01")
	errExceeded := errors.New("exceeded")
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO quota_reservations (message_id, portal_id, day, month) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING`, messageID, portalID, day, month)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		for _, sub := range subjects {
			perDay, perMonth := store.DefaultQuotaPerDay, store.DefaultQuotaPerMonth
			err := tx.QueryRow(ctx, `SELECT per_day, per_month FROM quota_limits
WHERE portal_id = $1 AND scope = $2 AND subject IN ($3, '*') ORDER BY subject = '*' LIMIT 1`,
				portalID, sub.Scope, sub.Subject).Scan(&perDay, &perMonth)
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
					return errExceeded
				}
			}
		}
		return nil
	})
	if errors.Is(err, errExceeded) {
		return false, nil
	}
	return err == nil, err
}

// BenchmarkReserveQuota reserves messages of one sender and one user from many goroutines at
// once (the 08:00 wake-up of a held campaign), with the single-row baseline and with the
// sharded counts: under the limit (counted), and past an exhausted daily limit (refused, as for
// the rest of a campaign larger than the quota). Run with -cpu to vary the goroutines
// (RunParallel starts 8 per GOMAXPROCS).
func BenchmarkReserveQuota(b *testing.B) {
	ctx := context.Background()
	s := migratedWithPool(b, 64)
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	subjects := []store.QuotaSubject{{Scope: "sender", Subject: "ACME"}, {Scope: "user", Subject: "u1"}}
	sharded := func(ctx context.Context, s *store.Store, id string, portalID int64, subjects []store.QuotaSubject, now time.Time) (bool, error) {
		d, err := s.ReserveQuota(ctx, id, portalID, subjects, now)
		return d.OK, err
	}
	var seq atomic.Int64
	for i, c := range []struct {
		name    string
		reserve func(ctx context.Context, s *store.Store, id string, portalID int64, subjects []store.QuotaSubject, now time.Time) (bool, error)
		perDay  int
	}{
		{"counted/single-row", reserveOnOneRow, 1 << 30},
		{"counted/sharded", sharded, 1 << 30},
		{"refused/single-row", reserveOnOneRow, 100},
		{"refused/sharded", sharded, 100},
	} {
		portalID := int64(100 + i)
		wantOK := c.perDay > 100
		for _, scope := range []string{"sender", "user"} {
			if err := s.SetQuota(ctx, portalID, scope, "*", c.perDay, 1<<30, "defer"); err != nil {
				b.Fatal(err)
			}
		}
		for range 100 { // the day's quota, used up before 08:00 in the refused cases
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", portalID, seq.Add(1))
			if _, err := c.reserve(ctx, s, id, portalID, subjects, now); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := fmt.Sprintf("%08x-0000-4000-8000-%012x", portalID, seq.Add(1))
					if ok, err := c.reserve(ctx, s, id, portalID, subjects, now); err != nil || ok != wantOK {
						b.Errorf("reserve %s: %v %v, want %v", id, ok, err, wantOK)
						return
					}
				}
			})
		})
	}
}

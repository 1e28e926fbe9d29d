package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Default quotas of a portal that set none.
const (
	DefaultQuotaPerDay   = 5000
	DefaultQuotaPerMonth = 10000
)

// How a quota's count is split so that a sender's messages do not all lock one row: each message
// counts on one of quotaShards rows (by its id), and a shard draws capacity from the period's
// pool row in blocks of at most quotaBlock. Near the limit blocks shrink to one, and a shard
// whose pool is empty takes back the unused capacity of the others, so the count stays exact.
const (
	quotaShards = 16
	quotaBlock  = 64
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

// quotaCounter is one count a message is reserved against: a subject's day or month.
type quotaCounter struct {
	QuotaSubject
	period   string
	monthly  bool
	limit    int
	onExceed string
	counted  int // committed count when the reservation began
}

// ReserveQuota counts the message against every subject's day and month quotas, all or nothing.
// Periods are UTC days and months.
// A message counted before (a retried activity) is not counted again.
//
// A message locks one shard row per count (not a row shared by every message of the sender),
// and the pool row only once per block of messages or when the limit is near.
func (s *Store) ReserveQuota(ctx context.Context, messageID string, portalID int64, subjects []QuotaSubject, now time.Time) (QuotaDecision, error) {
	day, month := now.UTC().Format("2006-01-02"), now.UTC().Format("2006-01")
	var out QuotaDecision
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		counters, fresh, err := prepareQuota(ctx, tx, messageID, portalID, subjects, day, month)
		if err != nil || !fresh {
			out.OK = err == nil
			return err
		}
		refuse := func(c quotaCounter) error {
			out = QuotaDecision{Scope: c.Scope, Subject: c.Subject, Period: c.period, Limit: c.limit, OnExceed: c.onExceed,
				Resets: periodEnd(now, c.monthly)}
			return errQuotaExceeded
		}
		// A count that had counted its limit when the reservation began refuses without a lock:
		// committed counts only grow, so under the same limit the refusal is exact, and the
		// messages of an exhausted sender do not all queue on a row.
		for _, c := range counters {
			if c.counted >= c.limit {
				return refuse(c)
			}
		}
		shard := quotaShard(messageID)
		taken, err := countFast(ctx, tx, portalID, counters, shard)
		if err != nil || taken {
			out.OK = err == nil
			return err
		}
		for _, c := range counters {
			ok, err := countAtPool(ctx, tx, portalID, c, shard)
			if err != nil {
				return err
			}
			if !ok {
				return refuse(c)
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

// prepareQuota records the message's reservation and reads the limits and committed totals of
// its counts, in one round trip. fresh is false when the message was counted before. The counts come in the order
// every transaction locks them in (scope, subject, day before month), so that two reservations
// never wait on each other in a cycle.
func prepareQuota(ctx context.Context, tx pgx.Tx, messageID string, portalID int64, subjects []QuotaSubject, day, month string) ([]quotaCounter, bool, error) {
	var subs []QuotaSubject
	seen := map[QuotaSubject]bool{}
	for _, sub := range subjects {
		if sub.Subject != "" && !seen[sub] {
			seen[sub] = true
			subs = append(subs, sub)
		}
	}
	sort.Slice(subs, func(i, j int) bool {
		if subs[i].Scope != subs[j].Scope {
			return subs[i].Scope < subs[j].Scope
		}
		return subs[i].Subject < subs[j].Subject
	})
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO quota_reservations (message_id, portal_id, day, month) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING`, messageID, portalID, day, month)
	for _, sub := range subs {
		b.Queue(`SELECT per_day, per_month, on_exceed FROM quota_limits
WHERE portal_id = $1 AND scope = $2 AND subject IN ($3, '*') ORDER BY subject = '*' LIMIT 1`, portalID, sub.Scope, sub.Subject)
		for _, period := range []string{day, month} {
			b.Queue(countedSQL, portalID, sub.Scope, sub.Subject, period)
		}
	}
	res := tx.SendBatch(ctx, b)
	defer res.Close()
	tag, err := res.Exec()
	if err != nil {
		return nil, false, err
	}
	var counters []quotaCounter
	for _, sub := range subs {
		perDay, perMonth, onExceed := DefaultQuotaPerDay, DefaultQuotaPerMonth, "reject"
		var inDay, inMonth int
		if err := res.QueryRow().Scan(&perDay, &perMonth, &onExceed); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, false, err
		}
		if err := res.QueryRow().Scan(&inDay); err != nil {
			return nil, false, err
		}
		if err := res.QueryRow().Scan(&inMonth); err != nil {
			return nil, false, err
		}
		counters = append(counters,
			quotaCounter{QuotaSubject: sub, period: day, limit: perDay, onExceed: onExceed, counted: inDay},
			quotaCounter{QuotaSubject: sub, period: month, monthly: true, limit: perMonth, onExceed: onExceed, counted: inMonth})
	}
	if err := res.Close(); err != nil {
		return nil, false, err
	}
	return counters, tag.RowsAffected() == 1, nil
}

// quotaShard is the shard a message counts on.
func quotaShard(messageID string) int {
	h := fnv.New32a()
	h.Write([]byte(messageID))
	return int(h.Sum32() % quotaShards)
}

// countFast counts the message on its shard of every count that has capacity left under the
// current limit, in one round trip. When one has none, it undoes them all (releasing their row
// locks, so that countAtPool takes its locks in order) and reports false.
func countFast(ctx context.Context, tx pgx.Tx, portalID int64, counters []quotaCounter, shard int) (bool, error) {
	if len(counters) == 0 {
		return true, nil
	}
	b := &pgx.Batch{}
	b.Queue(`SAVEPOINT quota_fast`)
	for _, c := range counters {
		b.Queue(`UPDATE quota_usage_shards s SET used = s.used + 1 FROM quota_usage p
WHERE s.portal_id = $1 AND s.scope = $2 AND s.subject = $3 AND s.period = $4 AND s.shard = $5 AND s.used < s.allotted
AND p.portal_id = s.portal_id AND p.scope = s.scope AND p.subject = s.subject AND p.period = s.period AND p.quota_limit = $6`,
			portalID, c.Scope, c.Subject, c.period, shard, c.limit)
	}
	res := tx.SendBatch(ctx, b)
	all := true
	_, err := res.Exec() // the savepoint
	for i := 0; err == nil && i < len(counters); i++ {
		var tag pgconn.CommandTag
		tag, err = res.Exec()
		all = all && tag.RowsAffected() == 1
	}
	if err = errors.Join(err, res.Close()); err != nil {
		return false, err
	}
	if all {
		return true, nil
	}
	_, err = tx.Exec(ctx, `ROLLBACK TO SAVEPOINT quota_fast`)
	return false, err
}

// countAtPool counts the message on c with c's pool row locked: on its shard if it has capacity
// left, else by drawing a block from the pool, else by taking back the capacity the other shards
// did not use. false: c's limit is reached (nothing counted on c).
func countAtPool(ctx context.Context, tx pgx.Tx, portalID int64, c quotaCounter, shard int) (bool, error) {
	var direct, granted int
	var limit *int
	if err := tx.QueryRow(ctx, `INSERT INTO quota_usage (portal_id, scope, subject, period, quota_limit) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (portal_id, scope, subject, period) DO UPDATE SET granted = quota_usage.granted
RETURNING used, granted, quota_limit`, portalID, c.Scope, c.Subject, c.period, c.limit).Scan(&direct, &granted, &limit); err != nil {
		return false, err
	}
	reclaimed := false
	if limit == nil || *limit != c.limit {
		// Capacity was granted under another limit: take it all back and grant under this one.
		var err error
		if granted, err = reclaimQuota(ctx, tx, portalID, c); err != nil {
			return false, err
		}
		reclaimed = true
	} else {
		tag, err := tx.Exec(ctx, `UPDATE quota_usage_shards SET used = used + 1
WHERE portal_id = $1 AND scope = $2 AND subject = $3 AND period = $4 AND shard = $5 AND used < allotted`,
			portalID, c.Scope, c.Subject, c.period, shard)
		if err != nil {
			return false, err
		}
		if tag.RowsAffected() == 1 {
			return true, nil // another message drew a block for this shard meanwhile
		}
	}
	free := c.limit - direct - granted
	if free <= 0 && !reclaimed {
		var err error
		if granted, err = reclaimQuota(ctx, tx, portalID, c); err != nil {
			return false, err
		}
		free = c.limit - direct - granted
	}
	if free <= 0 {
		return false, nil
	}
	block := min(max(free/(2*quotaShards), 1), quotaBlock)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO quota_usage_shards (portal_id, scope, subject, period, shard, used, allotted) VALUES ($1, $2, $3, $4, $5, 1, $6)
ON CONFLICT (portal_id, scope, subject, period, shard) DO UPDATE
SET used = quota_usage_shards.used + 1, allotted = quota_usage_shards.allotted + $6`, portalID, c.Scope, c.Subject, c.period, shard, block)
	b.Queue(`UPDATE quota_usage SET granted = granted + $5, quota_limit = $6
WHERE portal_id = $1 AND scope = $2 AND subject = $3 AND period = $4`, portalID, c.Scope, c.Subject, c.period, block, c.limit)
	return true, tx.SendBatch(ctx, b).Close()
}

// reclaimQuota takes back every shard's unused capacity into c's pool (its row locked by the
// caller) and returns the capacity still granted: what the shards used.
func reclaimQuota(ctx context.Context, tx pgx.Tx, portalID int64, c quotaCounter) (int, error) {
	var used int
	// The shards are locked in shard order, as every reclaim locks them.
	if err := tx.QueryRow(ctx, `WITH locked AS (SELECT used FROM quota_usage_shards
WHERE portal_id = $1 AND scope = $2 AND subject = $3 AND period = $4 ORDER BY shard FOR UPDATE)
SELECT coalesce(sum(used), 0) FROM locked`, portalID, c.Scope, c.Subject, c.period).Scan(&used); err != nil {
		return 0, err
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE quota_usage_shards SET allotted = used
WHERE portal_id = $1 AND scope = $2 AND subject = $3 AND period = $4 AND allotted <> used`, portalID, c.Scope, c.Subject, c.period)
	b.Queue(`UPDATE quota_usage SET granted = $5, quota_limit = $6
WHERE portal_id = $1 AND scope = $2 AND subject = $3 AND period = $4`, portalID, c.Scope, c.Subject, c.period, used, c.limit)
	return used, tx.SendBatch(ctx, b).Close()
}

// countedSQL reads a count's committed total: what its pool row counted directly and its shards.
const countedSQL = `SELECT coalesce((SELECT used FROM quota_usage WHERE portal_id = $1 AND scope = $2 AND subject = $3 AND period = $4), 0)
+ coalesce((SELECT sum(used) FROM quota_usage_shards WHERE portal_id = $1 AND scope = $2 AND subject = $3 AND period = $4), 0)`

// QuotaUsed is how many messages a subject's quota counted in period ('2026-11-25' or '2026-11').
func (s *Store) QuotaUsed(ctx context.Context, portalID int64, scope, subject, period string) (int, error) {
	var used int
	err := s.Pool.QueryRow(ctx, countedSQL, portalID, scope, subject, period).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("store: quota used: %w", err)
	}
	return used, nil
}

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

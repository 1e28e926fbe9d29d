package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReserveSlot gives the message the first free slot of lane at or after at, and moves the lane
// on by interval, so that the lane's messages go one interval apart. A message that already has
// a slot in the lane (a retried activity) gets the same one, unless that slot is more than
// SlotLifetime before at: it was not used (the message went back to a hold) and a new one is
// taken. One statement: the lane's row is locked only while it runs, never across a transaction.
// The interval is rounded up to PostgreSQL's microsecond, so a lane never goes faster than asked.
func (s *Store) ReserveSlot(ctx context.Context, messageID, lane string, at time.Time, interval time.Duration) (time.Time, error) {
	interval = SlotInterval(interval)
	var slot time.Time
	err := s.Pool.QueryRow(ctx, `WITH prior AS (SELECT slot_at FROM pacing_slots WHERE message_id = $1 AND lane = $2 AND slot_at >= $5),
bumped AS (
	INSERT INTO pacing_lanes AS l (lane, next_slot) SELECT $2, $3::timestamptz + $4 * interval '1 microsecond'
	WHERE NOT EXISTS (SELECT 1 FROM prior)
	ON CONFLICT (lane) DO UPDATE SET next_slot = greatest(l.next_slot, $3::timestamptz) + $4 * interval '1 microsecond', updated_at = now()
	RETURNING next_slot - $4 * interval '1 microsecond' AS slot_at
),
saved AS (
	INSERT INTO pacing_slots (message_id, lane, slot_at) SELECT $1, $2, slot_at FROM bumped
	ON CONFLICT (message_id, lane) DO UPDATE
	SET slot_at = CASE WHEN pacing_slots.slot_at < $5 THEN EXCLUDED.slot_at ELSE pacing_slots.slot_at END
	RETURNING slot_at
)
SELECT slot_at FROM prior UNION ALL SELECT slot_at FROM saved`,
		messageID, lane, at, interval.Microseconds(), at.Add(-SlotLifetime)).Scan(&slot)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: reserve slot: %w", err)
	}
	return slot, nil
}

// SenderRate is the portal's own rate for sender (messages per second), when one is set.
func (s *Store) SenderRate(ctx context.Context, portalID int64, sender string) (float64, bool, error) {
	var rate *float64
	err := s.Pool.QueryRow(ctx, `SELECT messages_per_second FROM portal_senders WHERE portal_id = $1 AND sender_key = $2`,
		portalID, SenderKey(sender)).Scan(&rate)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && rate == nil {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: sender rate: %w", err)
	}
	return *rate, true, nil
}

// SetSenderRate sets the portal's rate for one of its senders (messages per second); 0 goes back
// to the rate of the sender's class.
func (s *Store) SetSenderRate(ctx context.Context, portalID int64, sender string, perSecond float64) error {
	var rate *float64
	if perSecond > 0 {
		rate = &perSecond
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE portal_senders SET messages_per_second = $3 WHERE portal_id = $1 AND sender_key = $2`,
		portalID, SenderKey(sender), rate)
	if err != nil {
		return fmt.Errorf("store: set sender rate: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: set sender rate: sender of portal %d: %w", portalID, ErrNotFound)
	}
	return nil
}

// SlotLifetime is how long after its instant a message's slot is still its own.
const SlotLifetime = time.Hour

// SlotInterval is the interval ReserveSlot applies: interval rounded up to a microsecond.
func SlotInterval(interval time.Duration) time.Duration {
	return (interval + time.Microsecond - 1).Truncate(time.Microsecond)
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// FrequencyCap is at most Max messages to one recipient in any Per.
type FrequencyCap struct {
	Max int
	Per time.Duration
}

// FrequencyDecision is the outcome of CountFrequency.
type FrequencyDecision struct {
	OK bool
	// Cap is the cap reached, when !OK, and Count the messages it already counts.
	Cap   FrequencyCap
	Count int
	// FreesAt is when every cap reached has room again (zero when one never frees: Max 0).
	FreesAt time.Time
}

// frequencyLockClass keys the advisory locks of CountFrequency (the two-key form, a key space of
// its own).
const frequencyLockClass = 0x66726571 // "freq"

// CountFrequency counts the message to the recipient (portal, keyed phone hash) at now, unless
// that would exceed one of caps. The recipient's counting is serialised by a transaction-scoped
// advisory lock, so concurrent messages to one recipient are counted exactly; different
// recipients never wait for each other. A message counted before (a retried check) is not
// counted again.
func (s *Store) CountFrequency(ctx context.Context, messageID string, portalID int64, phoneHash string, caps []FrequencyCap, now time.Time) (FrequencyDecision, error) {
	if len(caps) == 0 {
		return FrequencyDecision{OK: true}, nil
	}
	longest := caps[0].Per
	for _, c := range caps {
		longest = max(longest, c.Per)
	}
	var out FrequencyDecision
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`,
			frequencyLockClass, fmt.Sprintf("%d:%s", portalID, phoneHash)); err != nil {
			return err
		}
		var counted bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM frequency_sends WHERE message_id = $1)`, messageID).Scan(&counted); err != nil {
			return err
		}
		if counted {
			out.OK = true
			return nil
		}
		// The recipient's sends within the longest period, newest first.
		rows, _ := tx.Query(ctx, `SELECT counted_at FROM frequency_sends
WHERE portal_id = $1 AND phone_hash = $2 AND counted_at > $3 ORDER BY counted_at DESC`, portalID, phoneHash, now.Add(-longest))
		sends, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
		if err != nil {
			return err
		}
		out = frequencyDecision(sends, caps, now)
		if !out.OK {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO frequency_sends (message_id, portal_id, phone_hash, counted_at) VALUES ($1, $2, $3, $4)`,
			messageID, portalID, phoneHash, now)
		return err
	})
	if err != nil {
		return FrequencyDecision{}, fmt.Errorf("store: count frequency: %w", err)
	}
	return out, nil
}

// frequencyDecision applies caps to a recipient's sends (newest first) at now.
func frequencyDecision(sends []time.Time, caps []FrequencyCap, now time.Time) FrequencyDecision {
	out := FrequencyDecision{OK: true}
	never := false
	for _, c := range caps {
		n := 0
		for _, t := range sends {
			if t.After(now.Add(-c.Per)) {
				n++
			}
		}
		if n < c.Max {
			continue
		}
		if out.OK {
			out.OK, out.Cap, out.Count = false, c, n
		}
		if c.Max == 0 {
			never = true
			continue
		}
		// Room again once the Max-th newest send leaves the period.
		if frees := sends[c.Max-1].Add(c.Per); frees.After(out.FreesAt) {
			out.FreesAt = frees
		}
	}
	if never {
		out.FreesAt = time.Time{}
	}
	return out
}

// UncountFrequency takes back a message's count (a later check stopped it before it left).
func (s *Store) UncountFrequency(ctx context.Context, messageID string) error {
	if _, err := s.Pool.Exec(ctx, `DELETE FROM frequency_sends WHERE message_id = $1`, messageID); err != nil {
		return fmt.Errorf("store: uncount frequency: %w", err)
	}
	return nil
}

package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// Results of a delivered signal (message_events.signal_result).
const (
	SignalDelivered = "signalled"
	SignalGone      = "gone"    // the workflow no longer runs: the event stays stored
	SignalRefused   = "refused" // Temporal rejected the signal itself: retrying cannot help
)

// PendingSignal is a stored event's signal, claimed for delivery to its message's workflow.
type PendingSignal struct {
	Seq       int64
	MessageID string
	Name      string
	Payload   []byte // JSON
	Attempts  int    // failed tries so far
}

// pendingColumns are a PendingSignal's columns of message_events aliased e.
const pendingColumns = `e.seq, e.message_id::text, e.signal_name, e.signal_payload, e.signal_attempts`

// claimLockClass is the class of the transaction advisory locks (class, message) a claim takes
// ("sb" in ASCII): two claimers never take rows of one message at once.
const claimLockClass int32 = 0x7362

// ClaimDueSignals claims the owed signals whose time has come of the messages owing the oldest
// (up to limit messages), each signal for lease: until then no other claim takes it, whichever
// process asks. A claim takes all of a message's due signals or none (another claimer holding
// the message's lock has them), so one sweeper delivers them, in order. Nothing waits for a lock.
func (s *Store) ClaimDueSignals(ctx context.Context, limit int, lease time.Duration) ([]PendingSignal, error) {
	rows, _ := s.Pool.Query(ctx, `WITH oldest AS (
		SELECT DISTINCT message_id FROM (SELECT message_id FROM message_events
			WHERE signalled_at IS NULL AND message_id IS NOT NULL AND signal_name IS NOT NULL AND signal_due_at <= now()
			ORDER BY signal_due_at, seq LIMIT $1) o),
	mine AS MATERIALIZED (
		SELECT message_id FROM oldest WHERE pg_try_advisory_xact_lock($3, hashtext(message_id::text))),
	due AS (
		SELECT seq FROM message_events
		WHERE message_id IN (SELECT message_id FROM mine)
		AND signalled_at IS NULL AND signal_name IS NOT NULL AND signal_due_at <= now()
		FOR UPDATE SKIP LOCKED)
	UPDATE message_events e SET signal_due_at = now() + $2 * interval '1 millisecond', signal_claimed_at = now()
	FROM due WHERE e.seq = due.seq
	RETURNING `+pendingColumns, limit, lease.Milliseconds(), claimLockClass)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PendingSignal])
	if err != nil {
		return nil, fmt.Errorf("store: claim due signals: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// MarkSignalled records that the event's signal is done with result (SignalDelivered, SignalGone
// or SignalRefused).
func (s *Store) MarkSignalled(ctx context.Context, seq int64, result string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE message_events SET signalled_at = now(), signal_result = $2 WHERE seq = $1 AND signalled_at IS NULL`,
		seq, result)
	if err != nil {
		return fmt.Errorf("store: mark event %d signalled: %w", seq, err)
	}
	return nil
}

// ReleaseSignal gives a claimed signal back, due again after retryIn; failed counts a failed try.
func (s *Store) ReleaseSignal(ctx context.Context, seq int64, retryIn time.Duration, failed bool) error {
	_, err := s.Pool.Exec(ctx, `UPDATE message_events SET signal_due_at = now() + $2 * interval '1 millisecond',
	signal_attempts = signal_attempts + CASE WHEN $3 THEN 1 ELSE 0 END WHERE seq = $1 AND signalled_at IS NULL`,
		seq, retryIn.Milliseconds(), failed)
	if err != nil {
		return fmt.Errorf("store: release event %d: %w", seq, err)
	}
	return nil
}

// OwedSignals counts the signals stored and not yet delivered (the outbox's backlog).
func (s *Store) OwedSignals(ctx context.Context) (int, error) {
	var n int
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM message_events
	WHERE signalled_at IS NULL AND message_id IS NOT NULL AND signal_name IS NOT NULL`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: owed signals: %w", err)
	}
	return n, nil
}

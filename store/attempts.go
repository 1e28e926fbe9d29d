package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Dispatch attempt states. An attempt is recorded prepared before the carrier call and becomes
// sending right before the request's body leaves (carrier.WithDeparture), so the record tells a
// message that never left (prepared: safe to send again) from one that maybe left (sending: the
// carrier may have it; never sent again blindly).
const (
	AttemptPrepared = "prepared" // recorded; the request has not left
	AttemptSending  = "sending"  // the request is leaving or left; no answer recorded yet
	// AttemptStarted is what workers before the prepared/sending split recorded before the call:
	// it means the same as AttemptSending.
	AttemptStarted   = "started"
	AttemptAccepted  = "accepted"
	AttemptFailed    = "failed"    // the carrier did not take the message (or it never left)
	AttemptUncertain = "uncertain" // the request left and the answer was lost or a server error
	// AttemptPartial: the carrier took some parts of a multipart message and refused others
	// (PartIDs); never sent again, since the parts taken would be repeated.
	AttemptPartial = "partial"
	// AttemptAbandoned: an attempt given up before sending again: one that never left, or an
	// uncertain one that a lookup did not find (or of an at-least-once carrier).
	AttemptAbandoned = "abandoned"
)

// DispatchAttempt is one try to hand a message to a carrier.
type DispatchAttempt struct {
	MessageID        string
	Attempt          int
	Carrier          string
	State            string
	CarrierMessageID string
	CarrierStatus    string
	Segments         int
	ErrorClass       string
	ErrorCode        string
	ErrorMessage     string
	StartedAt        time.Time
	FinishedAt       *time.Time
	PartIDs          []string
}

// MaybeLeft reports whether the attempt's request may have reached the carrier without an
// answer recorded: sending (or the older started) without outcome, or uncertain.
func (a DispatchAttempt) MaybeLeft() bool {
	return a.State == AttemptSending || a.State == AttemptStarted || a.State == AttemptUncertain
}

// AttemptOutcome is what FinishAttempt records.
type AttemptOutcome struct {
	State            string
	CarrierMessageID string
	CarrierStatus    string
	Segments         int
	ErrorClass       string
	ErrorCode        string
	ErrorMessage     string
	PartIDs          []string
}

// ErrConflict is returned when a concurrent writer got there first.
var ErrConflict = errors.New("store: conflict")

// DispatchAttempts lists a message's attempts, oldest first.
func (s *Store) DispatchAttempts(ctx context.Context, messageID string) ([]DispatchAttempt, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT message_id::text, attempt, carrier, state, carrier_message_id, carrier_status,
	segments, error_class, error_code, error_message, started_at, finished_at, part_ids
	FROM dispatch_attempts WHERE message_id = $1 ORDER BY attempt`, messageID)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DispatchAttempt])
	if err != nil {
		return nil, fmt.Errorf("store: dispatch attempts of %s: %w", messageID, err)
	}
	return out, nil
}

// StartAttempt records a new attempt in state prepared, before the carrier is called, and
// returns its number. Two workers starting one at once: one gets ErrConflict.
func (s *Store) StartAttempt(ctx context.Context, messageID, carrierName string) (int, error) {
	var n int
	err := s.Pool.QueryRow(ctx, `INSERT INTO dispatch_attempts (message_id, attempt, carrier, state)
	SELECT $1, coalesce(max(attempt), 0) + 1, $2, 'prepared' FROM dispatch_attempts WHERE message_id = $1
	RETURNING attempt`, messageID, carrierName).Scan(&n)
	if err != nil {
		if isUniqueViolation(err) {
			return 0, fmt.Errorf("store: start attempt of %s: %w", messageID, ErrConflict)
		}
		return 0, fmt.Errorf("store: start attempt of %s: %w", messageID, err)
	}
	return n, nil
}

// MarkSending moves a prepared attempt to sending, right before its request leaves. An attempt
// no longer prepared (another worker gave it up meanwhile) fails with ErrConflict: the request
// must not leave.
func (s *Store) MarkSending(ctx context.Context, messageID string, attempt int) error {
	return s.transition(ctx, messageID, attempt, AttemptPrepared, AttemptOutcome{State: AttemptSending}, false)
}

// AbandonPrepared gives up a prepared attempt that never left (its worker died before the
// request), so the message may be sent again. ErrConflict: it is no longer prepared (its
// request is leaving after all).
func (s *Store) AbandonPrepared(ctx context.Context, messageID string, attempt int, reason string) error {
	return s.transition(ctx, messageID, attempt, AttemptPrepared, AttemptOutcome{State: AttemptAbandoned, ErrorMessage: reason}, true)
}

// FinishAttempt records an attempt's outcome. Recording a second accepted attempt for a message
// fails with ErrConflict.
func (s *Store) FinishAttempt(ctx context.Context, messageID string, attempt int, o AttemptOutcome) error {
	return s.transition(ctx, messageID, attempt, "", o, true)
}

// transition records o on the attempt, only while it is in state from (any state when from is
// empty).
func (s *Store) transition(ctx context.Context, messageID string, attempt int, from string, o AttemptOutcome, finished bool) error {
	if o.PartIDs == nil {
		o.PartIDs = []string{}
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE dispatch_attempts SET state = $3, carrier_message_id = $4, carrier_status = $5,
	segments = $6, error_class = $7, error_code = $8, error_message = $9, part_ids = $10,
	finished_at = CASE WHEN $11 THEN now() END
	WHERE message_id = $1 AND attempt = $2 AND ($12 = '' OR state = $12)`,
		messageID, attempt, o.State, o.CarrierMessageID, o.CarrierStatus, o.Segments, o.ErrorClass, o.ErrorCode, o.ErrorMessage,
		o.PartIDs, finished, from)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("store: attempt %s/%d to %s: %w", messageID, attempt, o.State, ErrConflict)
		}
		return fmt.Errorf("store: attempt %s/%d to %s: %w", messageID, attempt, o.State, err)
	}
	if tag.RowsAffected() != 1 {
		if from != "" {
			return fmt.Errorf("store: attempt %s/%d to %s: no longer %s: %w", messageID, attempt, o.State, from, ErrConflict)
		}
		return fmt.Errorf("store: attempt %s/%d: %w", messageID, attempt, ErrNotFound)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}

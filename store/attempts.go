package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Dispatch attempt states.
const (
	AttemptStarted   = "started"
	AttemptAccepted  = "accepted"
	AttemptFailed    = "failed"    // the carrier did not take the message
	AttemptUncertain = "uncertain" // the answer was lost
	// AttemptAbandoned: an uncertain or interrupted attempt given up (at-least-once carriers, or a
	// lookup that found nothing) before sending again.
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
}

// ErrConflict is returned when a concurrent writer got there first.
var ErrConflict = errors.New("store: conflict")

// DispatchAttempts lists a message's attempts, oldest first.
func (s *Store) DispatchAttempts(ctx context.Context, messageID string) ([]DispatchAttempt, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT message_id::text, attempt, carrier, state, carrier_message_id, carrier_status,
	segments, error_class, error_code, error_message, started_at, finished_at
	FROM dispatch_attempts WHERE message_id = $1 ORDER BY attempt`, messageID)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DispatchAttempt])
	if err != nil {
		return nil, fmt.Errorf("store: dispatch attempts of %s: %w", messageID, err)
	}
	return out, nil
}

// StartAttempt records a new attempt in state started, before the carrier is called, and returns
// its number. Two workers starting one at once: one gets ErrConflict.
func (s *Store) StartAttempt(ctx context.Context, messageID, carrierName string) (int, error) {
	var n int
	err := s.Pool.QueryRow(ctx, `INSERT INTO dispatch_attempts (message_id, attempt, carrier, state)
	SELECT $1, coalesce(max(attempt), 0) + 1, $2, 'started' FROM dispatch_attempts WHERE message_id = $1
	RETURNING attempt`, messageID, carrierName).Scan(&n)
	if err != nil {
		if isUniqueViolation(err) {
			return 0, fmt.Errorf("store: start attempt of %s: %w", messageID, ErrConflict)
		}
		return 0, fmt.Errorf("store: start attempt of %s: %w", messageID, err)
	}
	return n, nil
}

// FinishAttempt records an attempt's outcome. Recording a second accepted attempt for a message
// fails with ErrConflict.
func (s *Store) FinishAttempt(ctx context.Context, messageID string, attempt int, o AttemptOutcome) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE dispatch_attempts SET state = $3, carrier_message_id = $4, carrier_status = $5,
	segments = $6, error_class = $7, error_code = $8, error_message = $9, finished_at = now()
	WHERE message_id = $1 AND attempt = $2`,
		messageID, attempt, o.State, o.CarrierMessageID, o.CarrierStatus, o.Segments, o.ErrorClass, o.ErrorCode, o.ErrorMessage)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("store: finish attempt %s/%d: %w", messageID, attempt, ErrConflict)
		}
		return fmt.Errorf("store: finish attempt %s/%d: %w", messageID, attempt, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("store: finish attempt %s/%d: %w", messageID, attempt, ErrNotFound)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}

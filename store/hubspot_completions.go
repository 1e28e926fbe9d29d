package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// States of a HubSpot action completion.
const (
	CompletionPending = "pending"
	CompletionDone    = "done"
	CompletionDead    = "dead"
)

// CompletionItem is a HubSpot action execution to complete, and the activity waiting for it.
type CompletionItem struct {
	CallbackID string
	PortalID   int64
	MessageID  string // empty: not known (the outcome is then not recorded beside a message)
	Outputs    map[string]string
	TaskToken  []byte
}

// CompletionFate is where a completion stands.
type CompletionFate struct {
	State     string
	ErrorType string // of a dead completion
	LastError string
}

// QueueCompletion records a completion to make, or refreshes the task token of a pending one (a
// new attempt of its activity), and returns where it stands: a callback is completed once,
// whatever the attempts.
func (s *Store) QueueCompletion(ctx context.Context, it CompletionItem) (CompletionFate, error) {
	outputs, err := json.Marshal(it.Outputs)
	if err != nil {
		return CompletionFate{}, fmt.Errorf("store: completion %s: %w", it.CallbackID, err)
	}
	var f CompletionFate
	err = s.Pool.QueryRow(ctx, `INSERT INTO hubspot_completions (callback_id, portal_id, message_id, outputs, task_token)
	VALUES ($1, $2, nullif($3, '')::uuid, $4, $5)
	ON CONFLICT (callback_id) DO UPDATE SET task_token = CASE WHEN hubspot_completions.state = 'pending'
		THEN EXCLUDED.task_token ELSE hubspot_completions.task_token END
	RETURNING state, error_type, last_error`, it.CallbackID, it.PortalID, it.MessageID, outputs, it.TaskToken).
		Scan(&f.State, &f.ErrorType, &f.LastError)
	if err != nil {
		return CompletionFate{}, fmt.Errorf("store: completion %s: %w", it.CallbackID, err)
	}
	return f, nil
}

// CompletionOf returns a completion's fate (ok false: none was queued).
func (s *Store) CompletionOf(ctx context.Context, callbackID string) (f CompletionFate, ok bool, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT state, error_type, last_error FROM hubspot_completions WHERE callback_id = $1`, callbackID).
		Scan(&f.State, &f.ErrorType, &f.LastError)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, false, nil
	}
	if err != nil {
		return f, false, fmt.Errorf("store: completion %s: %w", callbackID, err)
	}
	return f, true, nil
}

// CompletionRow is a pending completion a sender claimed.
type CompletionRow struct {
	CallbackID string
	PortalID   int64
	MessageID  string
	Outputs    map[string]string
	Attempts   int
	CreatedAt  time.Time
}

// CompletionPortals lists up to limit portals with due completions whose completions no other
// sender than owner holds at now (owner's own lease, left when a release failed, does not keep
// it out).
func (s *Store) CompletionPortals(ctx context.Context, now time.Time, owner string, limit int) ([]int64, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT c.portal_id FROM (
		SELECT DISTINCT portal_id FROM hubspot_completions WHERE state = 'pending' AND next_attempt_at <= $1) c
	LEFT JOIN hubspot_outbox_portals l USING (portal_id)
	WHERE (coalesce(l.completion_lease_until, '-infinity') <= $1 OR l.completion_owner = $3)
	ORDER BY c.portal_id LIMIT $2`, now, limit, owner)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store: completion portals: %w", err)
	}
	return ids, nil
}

// LeaseCompletions gives owner the completions of a portal until now+ttl, unless another owner's
// lease runs; the owner of a running lease extends it.
func (s *Store) LeaseCompletions(ctx context.Context, portalID int64, owner string, now time.Time, ttl time.Duration) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `INSERT INTO hubspot_outbox_portals (portal_id, completion_owner, completion_lease_until) VALUES ($1, $2, $4)
	ON CONFLICT (portal_id) DO UPDATE SET completion_owner = EXCLUDED.completion_owner, completion_lease_until = EXCLUDED.completion_lease_until
	WHERE hubspot_outbox_portals.completion_lease_until <= $3 OR hubspot_outbox_portals.completion_owner = $2`,
		portalID, owner, now, now.Add(ttl))
	if err != nil {
		return false, fmt.Errorf("store: lease completions of portal %d: %w", portalID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseCompletions ends owner's lease of a portal's completions.
func (s *Store) ReleaseCompletions(ctx context.Context, portalID int64, owner string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE hubspot_outbox_portals SET completion_lease_until = '-infinity', completion_owner = ''
	WHERE portal_id = $1 AND completion_owner = $2`, portalID, owner)
	if err != nil {
		return fmt.Errorf("store: release completions of portal %d: %w", portalID, err)
	}
	return nil
}

// ClaimCompletions takes up to limit due completions of a portal, oldest first, pushing them to
// now+lease so that they come due again if this sender dies.
func (s *Store) ClaimCompletions(ctx context.Context, portalID int64, claimID string, now time.Time, lease time.Duration, limit int) ([]CompletionRow, error) {
	rows, _ := s.Pool.Query(ctx, `WITH due AS (
		SELECT callback_id FROM hubspot_completions
		WHERE portal_id = $1 AND state = 'pending' AND next_attempt_at <= $3
		ORDER BY next_attempt_at, created_at LIMIT $5 FOR UPDATE SKIP LOCKED)
	UPDATE hubspot_completions c SET claim_id = $2, next_attempt_at = $4 FROM due WHERE c.callback_id = due.callback_id
	RETURNING c.callback_id, c.portal_id, coalesce(c.message_id::text, ''), c.outputs, c.attempts, c.created_at`,
		portalID, claimID, now, now.Add(lease), limit)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CompletionRow, error) {
		var c CompletionRow
		err := r.Scan(&c.CallbackID, &c.PortalID, &c.MessageID, &c.Outputs, &c.Attempts, &c.CreatedAt)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim completions of portal %d: %w", portalID, err)
	}
	return out, nil
}

// CompletionEnd is the end of a claimed completion: done, or dead with an error.
type CompletionEnd struct {
	Row CompletionRow
	// RecordOutcome stores the outputs beside the message (a repeated execution of the action is
	// answered with them): HubSpot took them.
	RecordOutcome bool
	// Dead: HubSpot refused it, or the tries ran out; ErrorType and Error say why.
	Dead      bool
	ErrorType string
	Error     string
	// Event is stored with the end (a refusal kept on the message); nil: none.
	Event *Event
}

// EndCompletions finishes claimed completions in one transaction (their state, the recorded
// outcomes and events) and returns the task token of each, by callback id: the latest attempt's,
// since a new attempt that comes after this finds the completion finished.
func (s *Store) EndCompletions(ctx context.Context, claimID string, ends []CompletionEnd, now time.Time) (map[string][]byte, error) {
	tokens := map[string][]byte{}
	if len(ends) == 0 {
		return tokens, nil
	}
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		for _, e := range ends {
			state := CompletionDone
			if e.Dead {
				state = CompletionDead
			}
			var token []byte
			err := tx.QueryRow(ctx, `UPDATE hubspot_completions SET state = $3, error_type = $4, last_error = $5, finished_at = $6, claim_id = NULL
			WHERE callback_id = $1 AND claim_id = $2 RETURNING task_token`, e.Row.CallbackID, claimID, state, e.ErrorType, e.Error, now).Scan(&token)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // the claim was lost (its lease ended): another sender has it
			}
			if err != nil {
				return err
			}
			tokens[e.Row.CallbackID] = token
			if e.RecordOutcome && e.Row.MessageID != "" {
				if err := recordActionOutcome(ctx, tx, e.Row.MessageID, e.Row.Outputs, now); err != nil {
					return err
				}
			}
			if e.Event != nil {
				if _, err := addEvent(ctx, tx, *e.Event); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: end completions: %w", err)
	}
	return tokens, nil
}

// RetryCompletions gives claimed completions back, due at `at`; with countAttempt the try counts.
func (s *Store) RetryCompletions(ctx context.Context, claimID string, callbackIDs []string, at time.Time, lastError string, countAttempt bool) error {
	if len(callbackIDs) == 0 {
		return nil
	}
	inc := 0
	if countAttempt {
		inc = 1
	}
	_, err := s.Pool.Exec(ctx, `UPDATE hubspot_completions SET next_attempt_at = $3, last_error = $4, attempts = attempts + $5, claim_id = NULL
	WHERE callback_id = ANY($1) AND claim_id = $2`, callbackIDs, claimID, at, lastError, inc)
	if err != nil {
		return fmt.Errorf("store: retry completions: %w", err)
	}
	return nil
}

// PurgeCompletions deletes up to limit completions finished before a time.
func (s *Store) PurgeCompletions(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM hubspot_completions WHERE callback_id IN (
		SELECT callback_id FROM hubspot_completions WHERE state <> 'pending' AND finished_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("store: purge completions: %w", err)
	}
	return tag.RowsAffected(), nil
}

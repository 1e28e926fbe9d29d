package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MessageByCarrierID finds our message id for a carrier's message id: first among dispatch
// attempts (written as soon as the carrier answers), then in the message log.
func (s *Store) MessageByCarrierID(ctx context.Context, carrierName, carrierMessageID string) (string, error) {
	var id string
	err := s.Pool.QueryRow(ctx, `SELECT message_id::text FROM (
		SELECT message_id, 1 AS pref FROM dispatch_attempts WHERE carrier = $1 AND carrier_message_id = $2
		UNION ALL
		SELECT id, 2 FROM messages WHERE carrier = $1 AND carrier_message_id = $2
	) m ORDER BY pref LIMIT 1`, carrierName, carrierMessageID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("store: message of %s/%s: %w", carrierName, carrierMessageID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: message of %s/%s: %w", carrierName, carrierMessageID, err)
	}
	return id, nil
}

// MessageExists reports whether the message log or the dispatch attempts know the id.
func (s *Store) MessageExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1)
		OR EXISTS (SELECT 1 FROM dispatch_attempts WHERE message_id = $1)`, id).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: message %s exists: %w", id, err)
	}
	return ok, nil
}

// ReplyTarget finds the message a reply from phone answers: the latest message sent to that
// number, preferring one sent from our number `to` (a reply comes back to the sender that
// wrote), so a shared number answers the right portal. "Sent" means the message log has a send
// time or a carrier accepted it.
func (s *Store) ReplyTarget(ctx context.Context, phone, to string) (id string, portalID int64, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT m.id::text, m.portal_id FROM messages m
	WHERE m.phone = $1 AND (m.sent_at IS NOT NULL OR EXISTS (
		SELECT 1 FROM dispatch_attempts a WHERE a.message_id = m.id AND a.state = 'accepted'))
	ORDER BY (m.sender = $2 AND $2 <> '') DESC, coalesce(m.sent_at, m.created_at) DESC LIMIT 1`, phone, to).Scan(&id, &portalID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, fmt.Errorf("store: latest message to a number: %w", ErrNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("store: latest message to a number: %w", err)
	}
	return id, portalID, nil
}

// ClaimEventSignal lets one webhook signal a stored event to its workflow: it returns true when
// the event has a message, was not signalled yet, and no one else claimed it within a minute.
func (s *Store) ClaimEventSignal(ctx context.Context, source, sourceEventID string) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE message_events SET signal_claimed_at = now()
	WHERE source = $1 AND source_event_id = $2 AND message_id IS NOT NULL AND signalled_at IS NULL
	AND (signal_claimed_at IS NULL OR signal_claimed_at < now() - interval '1 minute')`, source, sourceEventID)
	if err != nil {
		return false, fmt.Errorf("store: claim signal of %s/%s: %w", source, sourceEventID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// MarkEventSignalled records that the event reached its workflow (or that the workflow is gone).
func (s *Store) MarkEventSignalled(ctx context.Context, source, sourceEventID string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE message_events SET signalled_at = now() WHERE source = $1 AND source_event_id = $2`,
		source, sourceEventID)
	if err != nil {
		return fmt.Errorf("store: mark signalled %s/%s: %w", source, sourceEventID, err)
	}
	return nil
}

// ReleaseEventSignal gives a claim back after a failed signal, so the carrier's retry signals.
func (s *Store) ReleaseEventSignal(ctx context.Context, source, sourceEventID string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE message_events SET signal_claimed_at = NULL
	WHERE source = $1 AND source_event_id = $2 AND signalled_at IS NULL`, source, sourceEventID)
	if err != nil {
		return fmt.Errorf("store: release signal %s/%s: %w", source, sourceEventID, err)
	}
	return nil
}

// ApplyReplyKeyword records a STOP (or START) reply on the portal's SMS suppression list. The API
// calls it only when the message's workflow is gone; a running workflow does it itself.
func (s *Store) ApplyReplyKeyword(ctx context.Context, portalID int64, phone, messageID string, isStop, isStart bool) error {
	var err error
	switch {
	case isStop:
		_, err = s.Pool.Exec(ctx, `INSERT INTO suppressions (portal_id, channel, phone, reason, message_id)
		VALUES ($1, 'sms', $2, 'stop_reply', $3) ON CONFLICT DO NOTHING`, portalID, phone, messageID)
	case isStart:
		_, err = s.Pool.Exec(ctx, `DELETE FROM suppressions WHERE portal_id = $1 AND channel = 'sms' AND phone = $2`, portalID, phone)
	}
	if err != nil {
		return fmt.Errorf("store: apply reply keyword: %w", err)
	}
	return nil
}

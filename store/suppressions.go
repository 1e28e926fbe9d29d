package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"smsflow/phone"

	"github.com/jackc/pgx/v5"
)

// Opt-out actions of the suppression history.
const (
	OptOut = "opt_out"
	OptIn  = "opt_in"
)

// Sources of an opt-out or opt-in (the suppression's reason).
const (
	SourceStopReply      = "stop_reply"
	SourceStartReply     = "start_reply"
	SourceUnsubscribeURL = "unsubscribe_link"
	SourceCarrierOptOut  = "carrier_opt_out"
	SourceManual         = "manual"
)

// OptChange is one opt-out or opt-in of a number for a portal's channel.
type OptChange struct {
	PortalID  int64
	Channel   string
	Phone     string
	Action    string // OptOut or OptIn
	Source    string // SourceStopReply, …
	Keyword   string // the reply's keyword, "" otherwise
	MessageID string // the message replied to or whose link was used; "" when none
	EventSeq  int64  // the stored inbound event that caused it; 0 when none
}

// SuppressionEvent is one entry of a number's opt-out history.
type SuppressionEvent struct {
	ID        int64
	PortalID  int64
	Channel   string
	Phone     string
	Action    string
	Source    string
	Keyword   string
	MessageID *string
	EventSeq  *int64
	At        time.Time
}

// hashedPrefix marks a number kept only as its keyed hash (suppressions and their history after
// the number's messages were purged or erased).
const hashedPrefix = "hash:"

// HashedPhone is how a suppression stores phone once only its hash may stay: "hash:" and the
// keyed hash of the SmsPhoneHash search attribute.
func HashedPhone(key []byte, e164 string) string { return hashedPrefix + phone.Hash(key, e164) }

// phoneForms are the stored forms a number may have: in clear, and hashed when a key is known.
func phoneForms(key []byte, e164 string) []string {
	if len(key) == 0 || strings.HasPrefix(e164, hashedPrefix) {
		return []string{e164}
	}
	return []string{e164, HashedPhone(key, e164)}
}

// Suppressed reports whether phone opted out of channel for the portal, and why. It matches the
// number in clear and, once its data was purged or erased, by its keyed hash.
func (s *Store) Suppressed(ctx context.Context, portalID int64, channel, phone string) (bool, string, error) {
	var reason string
	err := s.Pool.QueryRow(ctx, `SELECT reason FROM suppressions WHERE portal_id = $1 AND channel = $2 AND phone = ANY($3) LIMIT 1`,
		portalID, channel, phoneForms(s.PhoneHashKey, phone)).Scan(&reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("store: suppressed: %w", err)
	}
	return true, reason, nil
}

// Suppress puts phone on the portal's suppression list for channel (the first reason stays while
// the number is on it) and records the opt-out in its history. An opt-out of a message that its
// webhook already recorded (the workflow applying the STOP the API stored) changes nothing, so a
// START recorded since is not undone.
func (s *Store) Suppress(ctx context.Context, portalID int64, channel, phone, reason, messageID string) error {
	return s.applyRecorded(ctx, OptChange{PortalID: portalID, Channel: channel, Phone: phone, Action: OptOut,
		Source: reason, MessageID: messageID})
}

// Unsuppress takes phone off the list (START / UNSTOP) and records the opt-in in its history; like
// Suppress, an opt-in of a message already recorded changes nothing.
func (s *Store) Unsuppress(ctx context.Context, portalID int64, channel, phone, reason, messageID string) error {
	return s.applyRecorded(ctx, OptChange{PortalID: portalID, Channel: channel, Phone: phone, Action: OptIn,
		Source: reason, MessageID: messageID})
}

// applyRecorded applies c unless the history already holds this action of this source for this
// message (a retried activity, or a workflow repeating what a webhook recorded).
func (s *Store) applyRecorded(ctx context.Context, c OptChange) error {
	err := s.InTx(ctx, func(tx *Tx) error { return tx.applyRecorded(ctx, c) })
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", c.Action, c.Source, err)
	}
	return nil
}

// applyRecorded is Store.applyRecorded inside a transaction (a Publish's).
func (t *Tx) applyRecorded(ctx context.Context, c OptChange) error {
	if c.MessageID != "" {
		var done bool
		if err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM suppression_events
		WHERE message_id = $1 AND source = $2 AND action = $3 AND portal_id = $4 AND channel = $5 AND phone = ANY($6))`,
			c.MessageID, c.Source, c.Action, c.PortalID, c.Channel, phoneForms(t.hashKey, c.Phone)).Scan(&done); err != nil || done {
			return err
		}
	}
	_, err := t.ChangeOpt(ctx, c)
	return err
}

// ChangeOpt applies an opt-out (the number goes on the list; a number already on it keeps its
// first reason) or an opt-in (it comes off) and appends the change to the number's history. It
// reports whether the list changed. A change caused by an event is recorded once per event.
func (t *Tx) ChangeOpt(ctx context.Context, c OptChange) (changed bool, err error) {
	var msg *string
	if c.MessageID != "" {
		msg = &c.MessageID
	}
	var seq *int64
	if c.EventSeq != 0 {
		seq = &c.EventSeq
	}
	tag, err := t.tx.Exec(ctx, `INSERT INTO suppression_events (portal_id, channel, phone, action, source, keyword, message_id, event_seq)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_seq, portal_id, channel) WHERE event_seq IS NOT NULL DO NOTHING`,
		c.PortalID, c.Channel, c.Phone, c.Action, c.Source, c.Keyword, msg, seq)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	switch c.Action {
	case OptOut:
		// A number kept as a hash is on the list already: it keeps that row and its reason.
		tag, err = t.tx.Exec(ctx, `INSERT INTO suppressions (portal_id, channel, phone, reason, message_id)
		SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM suppressions WHERE portal_id = $1 AND channel = $2 AND phone = ANY($6))
		ON CONFLICT (portal_id, channel, phone) DO NOTHING`, c.PortalID, c.Channel, c.Phone, c.Source, msg, phoneForms(t.hashKey, c.Phone))
	case OptIn:
		tag, err = t.tx.Exec(ctx, `DELETE FROM suppressions WHERE portal_id = $1 AND channel = $2 AND phone = ANY($3)`,
			c.PortalID, c.Channel, phoneForms(t.hashKey, c.Phone))
	default:
		return false, fmt.Errorf("store: opt change %q is neither %s nor %s", c.Action, OptOut, OptIn)
	}
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() >= 1, nil
}

// SuppressionHistory lists a number's opt-outs and opt-ins for a portal's channel, oldest first
// (entries kept as a hash included).
func (s *Store) SuppressionHistory(ctx context.Context, portalID int64, channel, phone string) ([]SuppressionEvent, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT id, portal_id, channel, phone, action, source, keyword, message_id::text, event_seq, at
	FROM suppression_events WHERE portal_id = $1 AND channel = $2 AND phone = ANY($3) ORDER BY at, id`, portalID, channel, phoneForms(s.PhoneHashKey, phone))
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[SuppressionEvent])
	if err != nil {
		return nil, fmt.Errorf("store: suppression history: %w", err)
	}
	return out, nil
}

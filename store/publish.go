package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Publication is one lifecycle step's writes, made in one short transaction: the message row and
// its status event, the change to the suppression list, and the HubSpot writes the step asks for
// (outbox rows, and the record's properties state). Every part is idempotent, so a retried step
// changes nothing and enqueues nothing twice.
type Publication struct {
	Message     *Message
	Event       *Event
	Suppression *SuppressionChange
	Outbox      []OutboxItem
	Record      *RecordUpdate
}

// SuppressionChange puts a number on a portal's suppression list, or with Remove takes it off.
type SuppressionChange struct {
	PortalID  int64
	Channel   string
	Phone     string
	Reason    string
	MessageID string
	Remove    bool
}

// RecordKey names a HubSpot record of a portal (ObjectType as the CRM paths spell it: contacts).
type RecordKey struct {
	PortalID   int64
	ObjectType string
	ObjectID   string
}

// RecordState is what our properties on a HubSpot record should say: its latest message (id,
// place in the record's order, last status and when it was reached) and the two flags (nil: never
// set by us).
type RecordState struct {
	LastMessageID string
	LastMessageAt *time.Time
	LastStatus    string
	LastStatusAt  *time.Time
	OptedOut      *bool
	NumberInvalid *bool
}

// RecordUpdate moves a record's state on and enqueues the write of its properties, once per
// Item.DedupeKey.
type RecordUpdate struct {
	Key RecordKey
	// Item is the properties row to enqueue; its payload is Apply's.
	Item OutboxItem
	// Apply computes the record's next state from its current one (zero for a record never
	// written) and the message's place in the record's order (its send time, else its creation
	// time); ok=false leaves the record as it is and enqueues nothing.
	Apply func(cur RecordState, messageAt time.Time) (next RecordState, payload []byte, ok bool)
}

// Publish makes the publication's writes in one transaction.
func (s *Store) Publish(ctx context.Context, p Publication) error {
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if erased, err := publishesErased(ctx, tx, p); err != nil || erased {
			return err // the number was erased: its workflow's last writes would store it again
		}
		if p.Message != nil {
			if err := saveMessage(ctx, tx, *p.Message); err != nil {
				return err
			}
		}
		if p.Event != nil {
			if _, err := addEvent(ctx, tx, *p.Event); err != nil {
				return err
			}
		}
		if c := p.Suppression; c != nil {
			action := OptOut
			if c.Remove {
				action = OptIn
			}
			if err := (&Tx{tx: tx, hashKey: s.PhoneHashKey}).applyRecorded(ctx, OptChange{PortalID: c.PortalID, Channel: c.Channel, Phone: c.Phone,
				Action: action, Source: c.Reason, MessageID: c.MessageID}); err != nil {
				return err
			}
		}
		for _, it := range p.Outbox {
			if err := enqueue(ctx, tx, it); err != nil {
				return err
			}
		}
		if p.Record != nil {
			return updateRecord(ctx, tx, *p.Record)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: publish: %w", err)
	}
	return nil
}

// publishesErased reports whether the publication is about a message whose number was erased.
func publishesErased(ctx context.Context, tx pgx.Tx, p Publication) (bool, error) {
	id := ""
	switch {
	case p.Message != nil:
		id = p.Message.ID
	case p.Event != nil && p.Event.MessageID != nil:
		id = *p.Event.MessageID
	case p.Suppression != nil:
		id = p.Suppression.MessageID
	}
	if id == "" {
		return false, nil
	}
	var erased bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM erased_messages WHERE message_id = $1)`, id).Scan(&erased)
	return erased, err
}

// updateRecord applies a record update with the record's row locked, so the updates of one
// record are applied, and their outbox rows numbered, one after the other.
func updateRecord(ctx context.Context, tx pgx.Tx, u RecordUpdate) error {
	k := u.Key
	if _, err := tx.Exec(ctx, `INSERT INTO hubspot_records (portal_id, object_type, object_id) VALUES ($1, $2, $3)
	ON CONFLICT DO NOTHING`, k.PortalID, k.ObjectType, k.ObjectID); err != nil {
		return fmt.Errorf("record state: %w", err)
	}
	var cur RecordState
	err := tx.QueryRow(ctx, `SELECT coalesce(last_message_id::text, ''), last_message_at, last_status, last_status_at, opted_out, number_invalid
	FROM hubspot_records WHERE portal_id = $1 AND object_type = $2 AND object_id = $3 FOR UPDATE`, k.PortalID, k.ObjectType, k.ObjectID).
		Scan(&cur.LastMessageID, &cur.LastMessageAt, &cur.LastStatus, &cur.LastStatusAt, &cur.OptedOut, &cur.NumberInvalid)
	if err != nil {
		return fmt.Errorf("record state: %w", err)
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM hubspot_outbox WHERE dedupe_key = $1)`, u.Item.DedupeKey).Scan(&done); err != nil {
		return fmt.Errorf("record state: %w", err)
	}
	if done {
		return nil // a retried step: this update was applied
	}
	messageAt := time.Now()
	err = tx.QueryRow(ctx, `SELECT coalesce(sent_at, created_at) FROM messages WHERE id = $1`, u.Item.MessageID).Scan(&messageAt)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("record state: message time: %w", err)
	}
	next, payload, ok := u.Apply(cur, messageAt)
	if !ok {
		return nil
	}
	var lastID *string
	if next.LastMessageID != "" {
		lastID = &next.LastMessageID
	}
	if _, err := tx.Exec(ctx, `UPDATE hubspot_records SET last_message_id = $4, last_message_at = $5, last_status = $6, last_status_at = $7,
	opted_out = $8, number_invalid = $9, updated_at = now() WHERE portal_id = $1 AND object_type = $2 AND object_id = $3`,
		k.PortalID, k.ObjectType, k.ObjectID, lastID, next.LastMessageAt, next.LastStatus, next.LastStatusAt, next.OptedOut, next.NumberInvalid); err != nil {
		return fmt.Errorf("record state: %w", err)
	}
	item := u.Item
	item.Payload = payload
	return enqueue(ctx, tx, item)
}

package store

import (
	"context"
	"errors"
	"fmt"
	"smsflow/outcome"
	"time"

	"github.com/jackc/pgx/v5"
)

// Message is one row of the message log.
type Message struct {
	ID               string
	PortalID         int64
	ObjectType       string
	ObjectID         string
	Channel          string
	Phone            string
	Country          string
	Sender           string
	SendingUser      string
	Campaign         string
	MessageType      string
	Text             string
	Encoding         string
	Segments         int
	Status           string
	ErrorCode        string
	ErrorMessage     string
	Carrier          string
	CarrierMessageID string
	CallbackID       string
	WorkflowID       string
	SendAt           *time.Time
	SentAt           *time.Time
	DeliveredAt      *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("store: not found")

// SaveMessage inserts the message or, when it exists, overwrites its mutable fields. It is
// idempotent, so an activity retried after a timeout writes the same row.
func (s *Store) SaveMessage(ctx context.Context, m Message) error {
	return saveMessage(ctx, s.Pool, m)
}

func saveMessage(ctx context.Context, db querier, m Message) error {
	_, err := db.Exec(ctx, `
INSERT INTO messages (id, portal_id, object_type, object_id, channel, phone, country, sender, sending_user,
	campaign, message_type, text, encoding, segments, status, error_code, error_message, carrier,
	carrier_message_id, callback_id, workflow_id, send_at, sent_at, delivered_at)
VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)
ON CONFLICT (id) DO UPDATE SET
	phone = EXCLUDED.phone, country = EXCLUDED.country, sender = EXCLUDED.sender,
	sending_user = EXCLUDED.sending_user, campaign = EXCLUDED.campaign, text = EXCLUDED.text,
	encoding = EXCLUDED.encoding, segments = EXCLUDED.segments, status = EXCLUDED.status,
	error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
	carrier = EXCLUDED.carrier, carrier_message_id = EXCLUDED.carrier_message_id,
	send_at = EXCLUDED.send_at, sent_at = coalesce(EXCLUDED.sent_at, messages.sent_at),
	delivered_at = coalesce(EXCLUDED.delivered_at, messages.delivered_at), updated_at = now()`,
		m.ID, m.PortalID, m.ObjectType, m.ObjectID, nz(m.Channel, string(outcome.SMS)), m.Phone, m.Country, m.Sender, m.SendingUser,
		m.Campaign, nz(m.MessageType, "marketing"), m.Text, m.Encoding, m.Segments, m.Status, m.ErrorCode, m.ErrorMessage,
		m.Carrier, m.CarrierMessageID, m.CallbackID, m.WorkflowID, m.SendAt, m.SentAt, m.DeliveredAt)
	if err != nil {
		return fmt.Errorf("store: save message %s: %w", m.ID, err)
	}
	return nil
}

// GetMessage reads one message.
func (s *Store) GetMessage(ctx context.Context, id string) (Message, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT id::text, portal_id, object_type, object_id, channel, phone, country, sender,
	sending_user, campaign, message_type, text, encoding, segments, status, error_code, error_message, carrier,
	carrier_message_id, callback_id, workflow_id, send_at, sent_at, delivered_at, created_at, updated_at
	FROM messages WHERE id = $1`, id)
	m, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Message])
	if errors.Is(err, pgx.ErrNoRows) {
		return Message{}, fmt.Errorf("store: message %s: %w", id, ErrNotFound)
	}
	return m, err
}

// Event is one entry of a message's history.
type Event struct {
	Seq           int64
	MessageID     *string
	Source        string
	SourceEventID string
	Kind          string
	Status        string
	Detail        []byte // JSON
	OccurredAt    time.Time
	ReceivedAt    time.Time
}

// AddEvent stores an event once: a second call with the same (source, source event id) is a
// no-op and reports inserted=false, and so is an event of an erased message.
func (s *Store) AddEvent(ctx context.Context, e Event) (inserted bool, err error) {
	return addEvent(ctx, s.Pool, e)
}

func addEvent(ctx context.Context, db querier, e Event) (inserted bool, err error) {
	detail := e.Detail
	if len(detail) == 0 {
		detail = []byte("{}")
	}
	// An event of an erased message is dropped: its workflow's last steps must not store it again.
	tag, err := db.Exec(ctx, `INSERT INTO message_events (message_id, source, source_event_id, kind, status, detail, occurred_at)
SELECT $1::uuid, $2, $3, $4, $5, $6, $7
WHERE $1::uuid IS NULL OR NOT EXISTS (SELECT 1 FROM erased_messages WHERE message_id = $1::uuid)
ON CONFLICT (source, source_event_id) DO NOTHING`,
		e.MessageID, e.Source, e.SourceEventID, e.Kind, e.Status, detail, e.OccurredAt)
	if err != nil {
		return false, fmt.Errorf("store: add event %s/%s: %w", e.Source, e.SourceEventID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Events lists a message's events in arrival order.
func (s *Store) Events(ctx context.Context, messageID string) ([]Event, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT seq, message_id::text, source, source_event_id, kind, status, detail, occurred_at, received_at
	FROM message_events WHERE message_id = $1 ORDER BY seq`, messageID)
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Event])
}

func nz(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

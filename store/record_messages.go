package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RecordMessage is one message to a HubSpot record as its record card shows it.
type RecordMessage struct {
	ID           string
	Channel      string
	Status       string
	Campaign     string
	Sender       string
	Text         string
	Encoding     string
	Segments     int
	ErrorCode    string
	ErrorMessage string
	SendAt       *time.Time
	SentAt       *time.Time
	DeliveredAt  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// RecordMessages lists the latest messages of a portal's record (objectType singular: contact,
// company, deal, …), newest first, at most limit (1 to 100).
func (s *Store) RecordMessages(ctx context.Context, portalID int64, objectType, objectID string, limit int) ([]RecordMessage, error) {
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	rows, _ := s.Pool.Query(ctx, `SELECT id::text, channel, status, campaign, sender, text, encoding, segments, error_code, error_message,
	send_at, sent_at, delivered_at, created_at, updated_at
FROM messages WHERE portal_id = $1 AND object_type = $2 AND object_id = $3
ORDER BY created_at DESC LIMIT $4`, portalID, objectType, objectID, limit)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RecordMessage])
	if err != nil {
		return nil, fmt.Errorf("store: record messages: %w", err)
	}
	return out, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Sources of a portal's sender.
const (
	SenderManual    = "manual"    // registered by an operator
	SenderCarrier   = "carrier"   // read from the carrier account
	SenderMigration = "migration" // seeded from the senders the portal's messages already used
)

// Sender is a sender id or number a portal may send from.
type Sender struct {
	PortalID  int64
	Sender    string
	Default   bool
	Source    string
	CreatedAt time.Time
	// MessagesPerSecond is the sender's own rate; nil: its class's (SENDER_RATES).
	MessagesPerSecond *float64
}

// SenderKey is what senders are compared by: a number without its leading +, an alphanumeric id
// in upper case (a phone shows "Acme" and "ACME" as the same brand).
func SenderKey(sender string) string {
	return strings.ToUpper(strings.TrimLeft(strings.TrimSpace(sender), "+"))
}

// AddSender lets the portal send from sender; with asDefault it also becomes the portal's default
// (replacing the previous one). Adding a sender again updates its spelling and source, and keeps it
// the default if it was.
func (s *Store) AddSender(ctx context.Context, portalID int64, sender string, asDefault bool, source string) error {
	sender = strings.TrimSpace(sender)
	if sender == "" || SenderKey(sender) == "" {
		return errors.New("store: add sender: empty sender")
	}
	if source == "" {
		source = SenderManual
	}
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if asDefault {
			if _, err := tx.Exec(ctx, `UPDATE portal_senders SET is_default = false WHERE portal_id = $1 AND is_default AND sender_key <> $2`,
				portalID, SenderKey(sender)); err != nil {
				return fmt.Errorf("store: add sender: %w", err)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO portal_senders (portal_id, sender, sender_key, is_default, source) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (portal_id, sender_key) DO UPDATE SET sender = EXCLUDED.sender,
	is_default = portal_senders.is_default OR EXCLUDED.is_default, source = EXCLUDED.source`, portalID, sender, SenderKey(sender), asDefault, source)
		if err != nil {
			return fmt.Errorf("store: add sender: %w", err)
		}
		return nil
	})
}

// RemoveSender stops the portal sending from sender; it reports whether the portal had it.
func (s *Store) RemoveSender(ctx context.Context, portalID int64, sender string) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM portal_senders WHERE portal_id = $1 AND sender_key = $2`, portalID, SenderKey(sender))
	if err != nil {
		return false, fmt.Errorf("store: remove sender: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Senders lists the portal's senders, the default first.
func (s *Store) Senders(ctx context.Context, portalID int64) ([]Sender, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT portal_id, sender, is_default, source, created_at, messages_per_second FROM portal_senders
	WHERE portal_id = $1 ORDER BY is_default DESC, sender_key`, portalID)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Sender])
	if err != nil {
		return nil, fmt.Errorf("store: senders: %w", err)
	}
	return out, nil
}

// SenderCheck is whether a portal may send from a sender.
type SenderCheck struct {
	// Allowed: the sender is one of the portal's.
	Allowed bool
	// Default is the portal's default sender ("" when it has none).
	Default string
}

// CheckSender says whether the portal may send from sender, and gives its default sender.
func (s *Store) CheckSender(ctx context.Context, portalID int64, sender string) (SenderCheck, error) {
	var out SenderCheck
	rows, _ := s.Pool.Query(ctx, `SELECT sender, is_default, sender_key = $2 FROM portal_senders
	WHERE portal_id = $1 AND (sender_key = $2 OR is_default)`, portalID, SenderKey(sender))
	var name string
	var isDefault, match bool
	_, err := pgx.ForEachRow(rows, []any{&name, &isDefault, &match}, func() error {
		if match && sender != "" {
			out.Allowed = true
		}
		if isDefault {
			out.Default = name
		}
		return nil
	})
	if err != nil {
		return SenderCheck{}, fmt.Errorf("store: check sender: %w", err)
	}
	return out, nil
}

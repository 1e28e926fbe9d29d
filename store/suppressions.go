package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Suppressed reports whether phone opted out of channel for the portal, and why.
func (s *Store) Suppressed(ctx context.Context, portalID int64, channel, phone string) (bool, string, error) {
	var reason string
	err := s.Pool.QueryRow(ctx, `SELECT reason FROM suppressions WHERE portal_id = $1 AND channel = $2 AND phone = $3`,
		portalID, channel, phone).Scan(&reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("store: suppressed: %w", err)
	}
	return true, reason, nil
}

// Suppress puts phone on the portal's suppression list for channel (idempotent; the first reason stays).
func (s *Store) Suppress(ctx context.Context, portalID int64, channel, phone, reason, messageID string) error {
	return suppress(ctx, s.Pool, portalID, channel, phone, reason, messageID)
}

func suppress(ctx context.Context, db querier, portalID int64, channel, phone, reason, messageID string) error {
	var msg *string
	if messageID != "" {
		msg = &messageID
	}
	_, err := db.Exec(ctx, `INSERT INTO suppressions (portal_id, channel, phone, reason, message_id)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (portal_id, channel, phone) DO NOTHING`, portalID, channel, phone, reason, msg)
	if err != nil {
		return fmt.Errorf("store: suppress: %w", err)
	}
	return nil
}

// Unsuppress takes phone off the list (START / UNSTOP).
func (s *Store) Unsuppress(ctx context.Context, portalID int64, channel, phone string) error {
	return unsuppress(ctx, s.Pool, portalID, channel, phone)
}

func unsuppress(ctx context.Context, db querier, portalID int64, channel, phone string) error {
	_, err := db.Exec(ctx, `DELETE FROM suppressions WHERE portal_id = $1 AND channel = $2 AND phone = $3`, portalID, channel, phone)
	if err != nil {
		return fmt.Errorf("store: unsuppress: %w", err)
	}
	return nil
}

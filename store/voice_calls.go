package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"smsflow/voice"
)

// SaveCallScript stores the script of call sc.CallID for portalID, before the call is placed: the
// carrier's webhooks answer from it. Saving again overwrites the script (an activity retried
// writes the same row).
func (s *Store) SaveCallScript(ctx context.Context, portalID int64, sc voice.Script) error {
	if sc.CallID == "" {
		return fmt.Errorf("store: save call script: no call id")
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return fmt.Errorf("store: save call script %s: %w", sc.CallID, err)
	}
	_, err = s.Pool.Exec(ctx, `INSERT INTO voice_calls (call_id, portal_id, script) VALUES ($1, $2, $3)
	ON CONFLICT (call_id) DO UPDATE SET portal_id = EXCLUDED.portal_id, script = EXCLUDED.script, updated_at = now()`,
		sc.CallID, portalID, b)
	if err != nil {
		return fmt.Errorf("store: save call script %s: %w", sc.CallID, err)
	}
	return nil
}

// CallScript reads the script of a call and the portal it belongs to; ErrNotFound when the call
// has none (or callID is not a call id at all).
func (s *Store) CallScript(ctx context.Context, callID string) (sc voice.Script, portalID int64, err error) {
	c, err := s.Call(ctx, callID)
	return c.Script, c.PortalID, err
}

// VoiceCall is one row of voice_calls.
type VoiceCall struct {
	Script        voice.Script
	PortalID      int64
	Caller        string
	Carrier       string
	CarrierCallID string
}

// Call reads a call's script and placement; ErrNotFound when absent.
func (s *Store) Call(ctx context.Context, callID string) (VoiceCall, error) {
	var (
		c   VoiceCall
		raw []byte
	)
	err := s.Pool.QueryRow(ctx, `SELECT portal_id, script, caller, carrier, carrier_call_id FROM voice_calls
	WHERE call_id = $1::text::uuid`, callID).Scan(&c.PortalID, &raw, &c.Caller, &c.Carrier, &c.CarrierCallID)
	switch {
	case errors.Is(err, pgx.ErrNoRows), isInvalidText(err):
		return VoiceCall{}, fmt.Errorf("store: call %s: %w", callID, ErrNotFound)
	case err != nil:
		return VoiceCall{}, fmt.Errorf("store: call %s: %w", callID, err)
	}
	if err := json.Unmarshal(raw, &c.Script); err != nil {
		return VoiceCall{}, fmt.Errorf("store: call %s: script: %w", callID, err)
	}
	return c, nil
}

// RecordCallPlaced records which carrier took the call, under which id, from which caller id.
// A call without a stored script gets no row (ErrNotFound).
func (s *Store) RecordCallPlaced(ctx context.Context, callID, caller, carrierName, carrierCallID string) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE voice_calls SET caller = $2, carrier = $3, carrier_call_id = $4,
	placed_at = coalesce(placed_at, now()), updated_at = now() WHERE call_id = $1`, callID, caller, carrierName, carrierCallID)
	if err != nil {
		return fmt.Errorf("store: record call %s placed: %w", callID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: record call %s placed: %w", callID, ErrNotFound)
	}
	return nil
}

// CallByCarrierID finds our call id for a carrier's call id; ErrNotFound when unknown.
func (s *Store) CallByCarrierID(ctx context.Context, carrierName, carrierCallID string) (string, error) {
	var id string
	err := s.Pool.QueryRow(ctx, `SELECT call_id::text FROM voice_calls WHERE carrier = $1 AND carrier_call_id = $2
	LIMIT 1`, carrierName, carrierCallID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.MessageByCarrierID(ctx, carrierName, carrierCallID)
	}
	if err != nil {
		return "", fmt.Errorf("store: call of %s/%s: %w", carrierName, carrierCallID, err)
	}
	return id, nil
}

// isInvalidText reports PostgreSQL's refusal of a malformed value (a call id that is no UUID).
func isInvalidText(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "22P02"
}

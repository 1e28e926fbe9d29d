package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// actionOutcomeKind is the message event holding the outputs a HubSpot action was completed with.
const actionOutcomeKind = "action_completed"

// RecordActionOutcome stores the output fields (hs_execution_state included) the message's
// HubSpot action was completed with, once: a repeated execution of that action is answered with
// them. A second call for the message keeps the first outputs.
func (s *Store) RecordActionOutcome(ctx context.Context, messageID string, outputs map[string]string) error {
	return recordActionOutcome(ctx, s.Pool, messageID, outputs, time.Now())
}

func recordActionOutcome(ctx context.Context, db querier, messageID string, outputs map[string]string, at time.Time) error {
	detail, err := json.Marshal(outputs)
	if err != nil {
		return fmt.Errorf("store: action outcome of %s: %w", messageID, err)
	}
	_, err = addEvent(ctx, db, Event{MessageID: &messageID, Source: "hubspot", SourceEventID: messageID + ":" + actionOutcomeKind,
		Kind: actionOutcomeKind, Status: outputs["sms_status"], Detail: detail, OccurredAt: at.UTC()})
	return err
}

// ActionOutcome returns the outputs the message's HubSpot action was completed with; ok is false
// while it is not completed (or was completed before outcomes were recorded).
func (s *Store) ActionOutcome(ctx context.Context, messageID string) (outputs map[string]string, ok bool, err error) {
	var detail []byte
	err = s.Pool.QueryRow(ctx, `SELECT detail FROM message_events WHERE source = 'hubspot' AND source_event_id = $1`,
		messageID+":"+actionOutcomeKind).Scan(&detail)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: action outcome of %s: %w", messageID, err)
	}
	if err := json.Unmarshal(detail, &outputs); err != nil {
		return nil, false, fmt.Errorf("store: action outcome of %s: %w", messageID, err)
	}
	return outputs, true, nil
}

package activities

import (
	"context"
	"encoding/json"
	"errors"
	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/store"
	"time"

	"go.temporal.io/sdk/temporal"
)

// PublishInput is one step of the lifecycle made visible: a status change (message log, HubSpot
// timeline and properties), an opt-out or opt-in, the completion of the HubSpot action — any of
// them, in that order, in one activity so the history stays small.
type PublishInput struct {
	Event    *StatusEvent
	OptOut   *OptOutInput
	Complete *CompleteInput
}

// StatusEvent is one status change, written to the message log and to HubSpot.
type StatusEvent struct {
	MessageID        string
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
	Characters       int
	Status           outcome.Status
	ErrorCode        outcome.Code
	ErrorMessage     string
	Carrier          string
	CarrierMessageID string
	CallbackID       string
	WorkflowID       string
	SendAt           *time.Time
	At               time.Time
	// Detail is the event's own data (click URL, reply text, carrier code).
	Detail map[string]string
	// TargetType / TargetID are the HubSpot record to write to when it is not the message's own
	// (a deal's message is written on the contact whose phone it went to).
	TargetType string
	TargetID   string
	// OptedOut / NumberInvalid set the record's flags.
	OptedOut      bool
	NumberInvalid bool
}

// CompleteInput completes a blocked HubSpot action.
type CompleteInput struct {
	PortalID   int64
	CallbackID string
	Outputs    map[string]string
	MessageID  string // where a permanent refusal is stored; empty in runs started before it was passed
	// FailContinue completes the action as failed (hs_execution_state FAIL_CONTINUE): the
	// message was not sent, and HubSpot's workflow goes on to branch on error_code.
	FailContinue bool
}

// OptOutInput puts a number on (or, with OptIn, takes it off) the suppression list.
type OptOutInput struct {
	PortalID  int64
	Channel   string
	Phone     string
	Reason    string
	MessageID string
	OptIn     bool
}

// Publish makes one lifecycle step visible (see PublishInput). Every part is idempotent, so a
// retry after a HubSpot rate limit redoes the store writes harmlessly.
func (a *Activities) Publish(ctx context.Context, in PublishInput) error {
	if in.Event != nil {
		if err := a.recordStatus(ctx, *in.Event); err != nil {
			return err
		}
	}
	if in.OptOut != nil {
		if err := a.optOut(ctx, *in.OptOut); err != nil {
			return err
		}
	}
	if in.Event != nil {
		if err := a.syncHubSpot(ctx, *in.Event); err != nil {
			if err := a.keepPermanent(ctx, in.Event.MessageID, "hubspot_sync", err); err != nil {
				return err
			}
		}
	}
	if in.Complete != nil {
		if err := a.completeAction(ctx, *in.Complete); err != nil {
			messageID := ""
			if in.Event != nil {
				messageID = in.Event.MessageID
			}
			return a.keepPermanent(ctx, messageID, "hubspot_complete:"+in.Complete.CallbackID, err)
		}
	}
	return nil
}

// keepPermanent returns err when a retry may fix it. A permanent HubSpot refusal (a 4xx) must not
// fail the message's lifecycle — the SMS is sent — so it is stored as an event of the message,
// where the audit and the operators see it, and the lifecycle goes on.
func (a *Activities) keepPermanent(ctx context.Context, messageID, what string, err error) error {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() {
		return err
	}
	detail, _ := json.Marshal(map[string]string{"error": err.Error()})
	var id *string
	if messageID != "" {
		id = &messageID
	}
	_, serr := a.Store.AddEvent(ctx, store.Event{MessageID: id, Source: "hubspot", SourceEventID: what + ":" + messageID + ":" + app.Type(),
		Kind: "hubspot_error", Status: app.Type(), Detail: detail, OccurredAt: time.Now().UTC()})
	return serr
}

// recordStatus writes the status to the message log and its event (idempotent).
func (a *Activities) recordStatus(ctx context.Context, ev StatusEvent) error {
	m := store.Message{ID: ev.MessageID, PortalID: ev.PortalID, ObjectType: ev.ObjectType, ObjectID: ev.ObjectID,
		Channel: ev.Channel, Phone: ev.Phone, Country: ev.Country, Sender: ev.Sender, SendingUser: ev.SendingUser,
		Campaign: ev.Campaign, MessageType: ev.MessageType, Text: ev.Text, Encoding: ev.Encoding, Segments: ev.Segments,
		Status: string(ev.Status), ErrorCode: string(ev.ErrorCode), ErrorMessage: ev.ErrorMessage, Carrier: ev.Carrier,
		CarrierMessageID: ev.CarrierMessageID, CallbackID: ev.CallbackID, WorkflowID: ev.WorkflowID, SendAt: ev.SendAt}
	at := ev.At
	switch ev.Status {
	case outcome.SMSSent:
		m.SentAt = &at
	case outcome.SMSDelivered:
		m.DeliveredAt = &at
	}
	if err := a.Store.SaveMessage(ctx, m); err != nil {
		return err
	}
	detail, _ := json.Marshal(ev.Detail)
	id := ev.MessageID
	eventID := ev.MessageID + ":" + string(ev.Status)
	if ev.Detail["event_id"] != "" {
		eventID += ":" + ev.Detail["event_id"]
	}
	_, err := a.Store.AddEvent(ctx, store.Event{MessageID: &id, Source: "workflow", SourceEventID: eventID,
		Kind: "status", Status: string(ev.Status), Detail: detail, OccurredAt: ev.At})
	return err
}

// completeAction completes the blocked HubSpot workflow action with the outcome, and records the
// outputs it was completed with: HubSpot executing the same callbackId again is answered with them.
func (a *Activities) completeAction(ctx context.Context, in CompleteInput) error {
	err := a.HubSpot.CompleteCallback(ctx, in.PortalID, in.CallbackID, in.Outputs)
	if errors.Is(err, hubspot.ErrPortalDisconnected) {
		return nil // nobody can complete it now; HubSpot expires it after hs_expiration_duration
	}
	if err != nil || in.Outputs["message_id"] == "" {
		return err
	}
	outputs := make(map[string]string, len(in.Outputs)+1)
	for k, v := range in.Outputs {
		outputs[k] = v
	}
	if outputs[hubspot.OutputState] == "" {
		outputs[hubspot.OutputState] = hubspot.StateSuccess // what CompleteCallback sent
	}
	return a.Store.RecordActionOutcome(ctx, in.Outputs["message_id"], outputs)
}

// optOut puts the recipient on the suppression list, or takes them off it (START).
func (a *Activities) optOut(ctx context.Context, in OptOutInput) error {
	if in.OptIn {
		return a.Store.Unsuppress(ctx, in.PortalID, channelOr(in.Channel), in.Phone, in.Reason, in.MessageID)
	}
	return a.Store.Suppress(ctx, in.PortalID, channelOr(in.Channel), in.Phone, in.Reason, in.MessageID)
}

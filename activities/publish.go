package activities

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"

	"smsflow/hubspot"
	"smsflow/hubspotsync"
	"smsflow/outcome"
	"smsflow/store"
)

// PublishInput is one step of the lifecycle made visible: a status change (message log, HubSpot
// timeline and properties), an opt-out or opt-in, the completion of the HubSpot action — any of
// them, in that order, in one activity so the history stays small. (A workflow may also complete
// the action on its own, first, as soon as the outcome is known; Complete stays for the runs that
// carry it here.)
type PublishInput struct {
	Event    *StatusEvent   `json:"Event"`
	OptOut   *OptOutInput   `json:"OptOut"`
	Complete *CompleteInput `json:"Complete"`
}

// StatusEvent is one status change, written to the message log and to HubSpot.
type StatusEvent struct {
	MessageID        string         `json:"MessageID"`
	PortalID         int64          `json:"PortalID"`
	ObjectType       string         `json:"ObjectType"`
	ObjectID         string         `json:"ObjectID"`
	Channel          string         `json:"Channel"`
	Phone            string         `json:"Phone"`
	Country          string         `json:"Country"`
	Sender           string         `json:"Sender"`
	SendingUser      string         `json:"SendingUser"`
	Campaign         string         `json:"Campaign"`
	MessageType      string         `json:"MessageType"`
	Text             string         `json:"Text"`
	Encoding         string         `json:"Encoding"`
	Segments         int            `json:"Segments"`
	Characters       int            `json:"Characters"`
	Status           outcome.Status `json:"Status"`
	ErrorCode        outcome.Code   `json:"ErrorCode"`
	ErrorMessage     string         `json:"ErrorMessage"`
	Carrier          string         `json:"Carrier"`
	CarrierMessageID string         `json:"CarrierMessageID"`
	CallbackID       string         `json:"CallbackID"`
	WorkflowID       string         `json:"WorkflowID"`
	SendAt           *time.Time     `json:"SendAt"`
	At               time.Time      `json:"At"`
	// Detail is the event's own data (click URL, reply text, carrier code).
	Detail map[string]string `json:"Detail"`
	// TargetType / TargetID are the HubSpot record to write to when it is not the message's own
	// (a deal's message is written on the contact whose phone it went to).
	TargetType string `json:"TargetType"`
	TargetID   string `json:"TargetID"`
	// OptedOut / NumberInvalid set the record's flags.
	OptedOut      bool `json:"OptedOut"`
	NumberInvalid bool `json:"NumberInvalid"`
}

// CompleteInput completes a blocked HubSpot action.
type CompleteInput struct {
	PortalID   int64             `json:"PortalID"`
	CallbackID string            `json:"CallbackID"`
	Outputs    map[string]string `json:"Outputs"`
	MessageID  string            `json:"MessageID"` // where a permanent refusal is stored; empty in runs started before it was passed
	// FailContinue completes the action as failed (hs_execution_state FAIL_CONTINUE): the
	// message was not sent, and HubSpot's workflow goes on to branch on error_code.
	FailContinue bool `json:"FailContinue"`
}

// OptOutInput puts a number on (or, with OptIn, takes it off) the suppression list.
type OptOutInput struct {
	PortalID  int64  `json:"PortalID"`
	Channel   string `json:"Channel"`
	Phone     string `json:"Phone"`
	Reason    string `json:"Reason"`
	MessageID string `json:"MessageID"`
	OptIn     bool   `json:"OptIn"`
}

// Publish makes one lifecycle step visible (see PublishInput). The message log, the suppression
// change and the HubSpot writes (timeline event and record properties, queued in the HubSpot
// outbox that hubspotsync delivers) are one short transaction, with no HubSpot call; then the
// completion, when the step carries one. Every part is idempotent, so a retry changes nothing and
// queues nothing twice.
func (a *Activities) Publish(ctx context.Context, in PublishInput) error {
	if in.Event != nil || in.OptOut != nil {
		if err := a.Store.Publish(ctx, publication(in)); err != nil {
			return err
		}
	}
	if in.Complete != nil {
		if err := a.completeAction(ctx, *in.Complete); err != nil {
			messageID := ""
			if in.Event != nil {
				messageID = in.Event.MessageID
			}
			if err := a.keepPermanent(ctx, messageID, "hubspot_complete:"+in.Complete.CallbackID, err); err != nil {
				return err
			}
		}
	}
	// Counted once the step succeeded, so that a retried step counts once.
	if in.Event != nil {
		countStatus(*in.Event)
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

// publication is the store's part of a step: the message row and its status event, the
// suppression change, and the HubSpot outbox rows of the status change.
func publication(in PublishInput) store.Publication {
	var p store.Publication
	if ev := in.Event; ev != nil {
		p = statusLog(*ev)
		c := change(*ev, in.OptOut)
		timeline, record := hubspotsync.Outbox(c)
		p.Outbox, p.Record = []store.OutboxItem{timeline}, &record
		if ownRecordElsewhere(*ev) {
			p.Outbox = append(p.Outbox, hubspotsync.AlsoOn(c, ev.ObjectType, ev.ObjectID))
		}
	}
	if o := in.OptOut; o != nil {
		p.Suppression = &store.SuppressionChange{PortalID: o.PortalID, Channel: channelOr(o.Channel), Phone: o.Phone, Reason: o.Reason,
			MessageID: o.MessageID, Remove: o.OptIn}
	}
	return p
}

// ownRecordElsewhere says whether a message went to another record's phone than its own (a
// deal's, to its contact or company): its status changes then show on its own record's timeline
// as well.
func ownRecordElsewhere(ev StatusEvent) bool {
	return ev.TargetType != "" && ev.ObjectType != "" && ev.ObjectID != "" &&
		(hubspot.ObjectPath(ev.TargetType) != hubspot.ObjectPath(ev.ObjectType) || ev.TargetID != ev.ObjectID)
}

// recordStatus writes a status to the message log and its event, without HubSpot (idempotent).
func (a *Activities) recordStatus(ctx context.Context, ev StatusEvent) error {
	if err := a.Store.Publish(ctx, statusLog(ev)); err != nil {
		return err
	}
	countStatus(ev)
	return nil
}

// statusLog is the message log's part of a status change: the message row and its event.
func statusLog(ev StatusEvent) store.Publication {
	m := message(ev)
	detail, _ := json.Marshal(ev.Detail)
	id := ev.MessageID
	eventID := ev.MessageID + ":" + string(ev.Status)
	if ev.Detail["event_id"] != "" {
		eventID += ":" + ev.Detail["event_id"]
	}
	return store.Publication{Message: &m, Event: &store.Event{MessageID: &id, Source: "workflow", SourceEventID: eventID, Kind: "status",
		Status: string(ev.Status), Detail: detail, OccurredAt: ev.At}}
}

// message is the message log row of a status change.
func message(ev StatusEvent) store.Message {
	m := store.Message{ID: ev.MessageID, PortalID: ev.PortalID, ObjectType: ev.ObjectType, ObjectID: ev.ObjectID,
		Channel: ev.Channel, Phone: ev.Phone, Country: ev.Country, Sender: ev.Sender, SendingUser: ev.SendingUser,
		Campaign: ev.Campaign, MessageType: ev.MessageType, Text: ev.Text, Encoding: ev.Encoding, Segments: ev.Segments,
		Status: string(ev.Status), ErrorCode: string(ev.ErrorCode), ErrorMessage: ev.ErrorMessage, Carrier: ev.Carrier,
		CarrierMessageID: ev.CarrierMessageID, CallbackID: ev.CallbackID, WorkflowID: ev.WorkflowID, SendAt: ev.SendAt}
	at := ev.At
	switch ev.Status {
	case outcome.SMSSent, outcome.VoiceSent:
		m.SentAt = &at
	case outcome.SMSDelivered, outcome.VoiceDelivered:
		m.DeliveredAt = &at
	}
	return m
}

// change is a status change as HubSpot shows it: on the record the message went to (a deal's
// message is written on the contact whose phone it used), with the event's tokens and the
// record's flags.
func change(ev StatusEvent, opt *OptOutInput) hubspotsync.Change {
	objectType, objectID := ev.ObjectType, ev.ObjectID
	if ev.TargetType != "" {
		objectType, objectID = ev.TargetType, ev.TargetID
	}
	tokens := map[string]string{
		"message_id": ev.MessageID, "sender": ev.Sender, "text": ev.Text, "status": string(ev.Status),
		"characters": strconv.Itoa(ev.Characters), "segments": strconv.Itoa(ev.Segments), "campaign": ev.Campaign,
		"error_code": string(ev.ErrorCode), "error_message": ev.ErrorMessage,
	}
	for k, v := range ev.Detail {
		if k != "event_id" {
			tokens[k] = v
		}
	}
	return hubspotsync.Change{MessageID: ev.MessageID, PortalID: ev.PortalID, ObjectType: objectType, ObjectID: objectID,
		Status: ev.Status, At: ev.At, EventID: ev.Detail["event_id"], Tokens: tokens,
		OptedOut: ev.OptedOut || (opt != nil && !opt.OptIn), OptedIn: opt != nil && opt.OptIn, NumberInvalid: ev.NumberInvalid}
}

// completeAction completes the blocked HubSpot workflow action with the outcome, and records the
// outputs it was completed with: HubSpot executing the same callbackId again is answered with them.
func (a *Activities) completeAction(ctx context.Context, in CompleteInput) error {
	outputs := completionOutputs(in)
	err := a.HubSpot.CompleteCallback(ctx, in.PortalID, in.CallbackID, outputs)
	if errors.Is(err, hubspot.ErrPortalDisconnected) {
		return nil // nobody can complete it now; HubSpot expires it after hs_expiration_duration
	}
	if err != nil || outputs["message_id"] == "" {
		return err
	}
	return a.Store.RecordActionOutcome(ctx, outputs["message_id"], outputs)
}

// completionOutputs are the output fields an action is completed with: the outcome's, with the
// execution state (FAIL_CONTINUE for a message not sent, else SUCCESS unless given).
func completionOutputs(in CompleteInput) map[string]string {
	outputs := make(map[string]string, len(in.Outputs)+1)
	for k, v := range in.Outputs {
		outputs[k] = v
	}
	switch {
	case in.FailContinue:
		outputs[hubspot.OutputState] = hubspot.StateFailContinue
	case outputs[hubspot.OutputState] == "":
		outputs[hubspot.OutputState] = hubspot.StateSuccess
	}
	return outputs
}

package activities

import (
	"context"
	"errors"
	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/store"
	"strconv"
	"strings"
	"time"
)

// HubSpot properties smsflow keeps on records; created at install.
const (
	PropOptedOut        = "smsflow_opted_out"
	PropNumberInvalid   = "smsflow_number_invalid"
	PropLastMessageDate = "smsflow_last_message_date"
	PropLastDestination = "smsflow_last_destination"
	PropLastMessageID   = "smsflow_last_message_id"
	PropLastContent     = "smsflow_last_content"
	PropLastStatus      = "smsflow_last_status"
	PropSMSConsent      = "smsflow_sms_consent"
)

// eventKinds maps statuses to the portal setting that can switch their timeline event off.
var eventKinds = map[outcome.Status]string{
	outcome.SMSDelivered: "delivered", outcome.SMSNotDelivered: "not_delivered", outcome.SMSClicked: "clicked",
	outcome.SMSResponse: "response", outcome.SMSUnsubscribed: "unsubscribed",
}

// syncHubSpot writes the status to the record: the timeline event (or the fallback note), unless
// the portal switched that kind off — the send event is always written — and the properties.
func (a *Activities) syncHubSpot(ctx context.Context, ev StatusEvent) error {
	if ev.TargetType != "" {
		ev.ObjectType, ev.ObjectID = ev.TargetType, ev.TargetID
	}
	p, err := a.Store.PortalSettingsOf(ctx, ev.PortalID)
	if err != nil {
		return err
	}
	if !p.Connected {
		return nil // nothing can be written; the message log has it
	}
	if !p.PropertiesReady {
		if err := a.HubSpot.SetUp(ctx, ev.PortalID); err != nil {
			return err
		}
	}
	props := map[string]string{
		PropLastStatus:      string(ev.Status),
		PropLastMessageID:   ev.MessageID,
		PropLastMessageDate: ev.At.UTC().Format(time.RFC3339),
	}
	if ev.Phone != "" {
		props[PropLastDestination] = ev.Phone
	}
	if ev.Text != "" {
		props[PropLastContent] = ev.Text
	}
	if ev.OptedOut {
		props[PropOptedOut] = "true"
	}
	if ev.NumberInvalid {
		props[PropNumberInvalid] = "true"
	}
	// The timeline event first: it is the record of what happened; the properties follow.
	if err := a.timelineEvent(ctx, p, ev); err != nil {
		return ignoreDisconnected(err)
	}
	return ignoreDisconnected(a.HubSpot.UpdateProperties(ctx, ev.PortalID, ev.ObjectType, ev.ObjectID, props))
}

// timelineEvent writes the status's timeline event (or the fallback note) unless the portal
// switched that kind of event off; the send event is always written.
func (a *Activities) timelineEvent(ctx context.Context, p store.PortalSettings, ev StatusEvent) error {
	if kind, ok := eventKinds[ev.Status]; ok {
		for _, off := range p.DisabledEvents {
			if off == kind {
				return nil
			}
		}
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
	return a.HubSpot.RecordEvent(ctx, ev.PortalID, p.TimelineMode == "fallback", TimelineEvent{
		ID: ev.MessageID + "-" + strings.ToLower(string(ev.Status)) + suffix(ev.Detail["event_id"]), ObjectType: ev.ObjectType, ObjectID: ev.ObjectID,
		Status: ev.Status, At: ev.At, Tokens: tokens,
	})
}

func suffix(eventID string) string {
	if eventID == "" {
		return ""
	}
	return "-" + eventID
}

func ignoreDisconnected(err error) error {
	if errors.Is(err, hubspot.ErrPortalDisconnected) {
		return nil
	}
	return err
}

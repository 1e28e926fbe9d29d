// Package hubspotsync delivers the HubSpot outbox: the timeline events (or notes) and record
// properties that the message lifecycle records in PostgreSQL (store.Publish) are written to
// HubSpot per portal, in batches, within the portal's rate limits, by a Sender that any number of
// worker processes may run.
//
// This file builds the outbox rows of a status change and holds the rules of what a record's
// properties say; sender.go delivers them.
package hubspotsync

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/store"
)

// HubSpot properties smsflow keeps on records; created at install (hubspot/app/properties.json).
const (
	PropOptedOut        = "smsflow_opted_out"
	PropNumberInvalid   = "smsflow_number_invalid"
	PropLastMessageDate = "smsflow_last_message_date"
	PropLastDestination = "smsflow_last_destination"
	PropLastMessageID   = "smsflow_last_message_id"
	PropLastContent     = "smsflow_last_content"
	PropLastStatus      = "smsflow_last_status"
)

// Change is one status change of a message as HubSpot shows it: an event on the record's
// timeline and the record's properties.
type Change struct {
	MessageID  string
	PortalID   int64
	ObjectType string // the record written to (a deal's message is written on its contact)
	ObjectID   string
	Status     outcome.Status
	At         time.Time
	// EventID tells apart two changes of one status (two clicks); empty for most.
	EventID string
	// Tokens are the timeline event's data: message id, sender, text, status, characters…
	Tokens map[string]string
	// OptedOut / OptedIn / NumberInvalid move the record's flags.
	OptedOut, OptedIn, NumberInvalid bool
}

// TimelineItem is the payload of a timeline outbox row.
type TimelineItem struct {
	ID     string            `json:"id"` // the event's id in HubSpot: a rewrite is a no-op
	Status string            `json:"status"`
	At     time.Time         `json:"at"`
	Tokens map[string]string `json:"tokens"`
}

// PropertiesItem is the payload of a properties outbox row: which of the record's properties the
// change moved. Their values are read from the record's state when the row is delivered, so
// several rows of one record make one write with the newest values.
type PropertiesItem struct {
	Last          bool `json:"last,omitempty"` // the smsflow_last_* properties
	OptedOut      bool `json:"opted_out,omitempty"`
	NumberInvalid bool `json:"number_invalid,omitempty"`
}

// eventID is the id of a change's timeline event (and note), stable across retries.
func (c Change) eventID() string {
	id := c.MessageID + "-" + strings.ToLower(string(c.Status))
	if c.EventID != "" {
		id += "-" + c.EventID
	}
	return id
}

// Outbox returns the outbox rows of a change: its timeline event, and the update of the record's
// properties state with its own row.
func Outbox(c Change) (store.OutboxItem, store.RecordUpdate) {
	objectType := hubspot.ObjectPath(c.ObjectType)
	id := c.eventID()
	payload, _ := json.Marshal(TimelineItem{ID: id, Status: string(c.Status), At: c.At.UTC(), Tokens: c.Tokens})
	timeline := store.OutboxItem{PortalID: c.PortalID, MessageID: c.MessageID, Kind: store.OutboxTimeline, ObjectType: objectType,
		ObjectID: c.ObjectID, DedupeKey: "timeline:" + id, Payload: payload}
	record := store.RecordUpdate{
		Key: store.RecordKey{PortalID: c.PortalID, ObjectType: objectType, ObjectID: c.ObjectID},
		Item: store.OutboxItem{PortalID: c.PortalID, MessageID: c.MessageID, Kind: store.OutboxProperties, ObjectType: objectType,
			ObjectID: c.ObjectID, DedupeKey: "properties:" + id},
		Apply: func(cur store.RecordState, messageAt time.Time) (store.RecordState, []byte, bool) {
			next, moved := NextRecordState(cur, c, messageAt)
			if moved == (PropertiesItem{}) {
				return cur, nil, false
			}
			payload, _ := json.Marshal(moved)
			return next, payload, true
		},
	}
	return timeline, record
}

// AlsoOn returns the timeline row that shows a change on another record than the one it was
// written to: a deal's message goes to its contact's (or company's) phone and is written there,
// and appears on the deal's timeline too. The row has its own event id, so its note or event is
// not mistaken for the contact's.
func AlsoOn(c Change, objectType, objectID string) store.OutboxItem {
	objectType = hubspot.ObjectPath(objectType)
	id := c.eventID() + "-" + objectType
	payload, _ := json.Marshal(TimelineItem{ID: id, Status: string(c.Status), At: c.At.UTC(), Tokens: c.Tokens})
	return store.OutboxItem{PortalID: c.PortalID, MessageID: c.MessageID, Kind: store.OutboxTimeline, ObjectType: objectType,
		ObjectID: objectID, DedupeKey: "timeline:" + id, Payload: payload}
}

// NextRecordState applies a change to what a record's properties say:
//   - the last-message properties belong to the record's latest message (the latest sent, else
//     created): a change of an older message leaves them alone;
//   - once a message is UNSUBSCRIBED there, a later click or reply of that message keeps it so;
//   - opted out is set by an opt-out and set back by an opt-in; number invalid is set by the
//     carrier's verdict and set back when the record's latest message is delivered.
//
// It returns the next state and which properties moved (none: nothing to write).
func NextRecordState(cur store.RecordState, c Change, messageAt time.Time) (store.RecordState, PropertiesItem) {
	next := cur
	var moved PropertiesItem
	latest := cur.LastMessageID == "" || cur.LastMessageID == c.MessageID || cur.LastMessageAt == nil ||
		messageAt.After(*cur.LastMessageAt) || (messageAt.Equal(*cur.LastMessageAt) && c.MessageID > cur.LastMessageID)
	if latest {
		at, status := messageAt, string(c.Status)
		keepUnsubscribed := cur.LastMessageID == c.MessageID && unsubscribed(cur.LastStatus) && !unsubscribed(status)
		next.LastMessageID, next.LastMessageAt = c.MessageID, &at
		if !keepUnsubscribed {
			statusAt := c.At.UTC()
			next.LastStatus, next.LastStatusAt = status, &statusAt
			moved.Last = true
		}
	}
	set := func(flag **bool, v bool, mark *bool) {
		*flag = &v
		*mark = true
	}
	if c.OptedOut {
		set(&next.OptedOut, true, &moved.OptedOut)
	} else if c.OptedIn {
		set(&next.OptedOut, false, &moved.OptedOut)
	}
	if c.NumberInvalid {
		set(&next.NumberInvalid, true, &moved.NumberInvalid)
	} else if latest && c.Status == outcome.SMSDelivered {
		set(&next.NumberInvalid, false, &moved.NumberInvalid)
	}
	return next, moved
}

func unsubscribed(status string) bool {
	return strings.HasSuffix(status, "_UNSUBSCRIBED") // SMS_UNSUBSCRIBED, and VOICE_UNSUBSCRIBED for calls
}

// Properties are the property values a record's state gives for the moved properties.
func Properties(v store.RecordView, moved PropertiesItem) map[string]string {
	props := map[string]string{}
	if moved.Last && v.LastMessageID != "" {
		props[PropLastMessageID] = v.LastMessageID
		props[PropLastStatus] = v.LastStatus
		if v.LastStatusAt != nil {
			props[PropLastMessageDate] = v.LastStatusAt.UTC().Format(time.RFC3339)
		}
		if v.Phone != "" {
			props[PropLastDestination] = v.Phone
		}
		if v.Text != "" {
			props[PropLastContent] = v.Text
		}
	}
	if moved.OptedOut && v.OptedOut != nil {
		props[PropOptedOut] = strconv.FormatBool(*v.OptedOut)
	}
	if moved.NumberInvalid && v.NumberInvalid != nil {
		props[PropNumberInvalid] = strconv.FormatBool(*v.NumberInvalid)
	}
	return props
}

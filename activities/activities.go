// Package activities holds every piece of I/O the message workflows do: PostgreSQL, HubSpot and
// carriers. Activities are methods on Activities, so a test swaps a client, not a function.
package activities

import (
	"context"
	"time"

	"smsflow/store"
)

// Activities holds the clients the activities need.
type Activities struct {
	Store *store.Store
}

// MessageRecord is what the workflow knows of a message at a status change; SaveMessage writes it
// to the message log.
type MessageRecord struct {
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
}

// SaveMessage writes the message's row in the message log (idempotent).
func (a *Activities) SaveMessage(ctx context.Context, m MessageRecord) error {
	return a.Store.SaveMessage(ctx, store.Message{
		ID: m.ID, PortalID: m.PortalID, ObjectType: m.ObjectType, ObjectID: m.ObjectID, Channel: m.Channel,
		Phone: m.Phone, Country: m.Country, Sender: m.Sender, SendingUser: m.SendingUser, Campaign: m.Campaign,
		MessageType: m.MessageType, Text: m.Text, Encoding: m.Encoding, Segments: m.Segments, Status: m.Status,
		ErrorCode: m.ErrorCode, ErrorMessage: m.ErrorMessage, Carrier: m.Carrier, CarrierMessageID: m.CarrierMessageID,
		CallbackID: m.CallbackID, WorkflowID: m.WorkflowID, SendAt: m.SendAt, SentAt: m.SentAt, DeliveredAt: m.DeliveredAt,
	})
}

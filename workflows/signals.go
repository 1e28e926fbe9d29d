package workflows

import (
	"time"

	"smsflow/outcome"
)

// Signals the API sends to a message workflow, by workflow id SMSWorkflowID(message id).
const (
	// SignalCarrierReport carries a CarrierReport (delivery status from a carrier webhook).
	SignalCarrierReport = "carrier-report"
	// SignalReply carries a Reply (an inbound SMS routed to the latest message to that number).
	SignalReply = "reply"
	// SignalClick carries a Click (a short link of the message was opened).
	SignalClick = "click"
	// SignalUnsubscribe carries an Unsubscribe (the unsubscribe page was confirmed).
	SignalUnsubscribe = "unsubscribe"
	// QueryState answers a MessageState.
	QueryState = "state"
)

// CarrierReport is one delivery status report, already stored once by the API.
type CarrierReport struct {
	EventID          string         `json:"EventID"` // the carrier's event identity, unique per carrier
	Carrier          string         `json:"Carrier"`
	CarrierMessageID string         `json:"CarrierMessageID"`
	Status           outcome.Report `json:"Status"`
	ErrorCode        string         `json:"ErrorCode"` // the carrier's code, e.g. Twilio 30003
	ErrorMessage     string         `json:"ErrorMessage"`
	Permanent        bool           `json:"Permanent"`     // a permanent failure (unassigned number, blocked…)
	NumberInvalid    bool           `json:"NumberInvalid"` // "number not assigned": the record's number gets marked invalid
	OptedOut         bool           `json:"OptedOut"`      // the carrier refused because the recipient opted out with it (Twilio 21610)
	OccurredAt       time.Time      `json:"OccurredAt"`
}

// Reply is an inbound message from the recipient.
type Reply struct {
	EventID    string    `json:"EventID"`
	Text       string    `json:"Text"`
	IsStop     bool      `json:"IsStop"`  // STOP, ARRET, BAJA, … (case-insensitive)
	IsStart    bool      `json:"IsStart"` // START, UNSTOP
	OccurredAt time.Time `json:"OccurredAt"`
}

// Click is one open of a short link.
type Click struct {
	EventID    string    `json:"EventID"`
	URL        string    `json:"URL"`
	OccurredAt time.Time `json:"OccurredAt"`
}

// Unsubscribe is a confirmed unsubscribe link.
type Unsubscribe struct {
	EventID    string    `json:"EventID"`
	OccurredAt time.Time `json:"OccurredAt"`
}

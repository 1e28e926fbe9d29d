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
	EventID          string // the carrier's event identity, unique per carrier
	Carrier          string
	CarrierMessageID string
	Status           outcome.Report
	ErrorCode        string // the carrier's code, e.g. Twilio 30003
	ErrorMessage     string
	Permanent        bool // a permanent failure (unassigned number, blocked…)
	NumberInvalid    bool // "number not assigned": the record's number gets marked invalid
	OptedOut         bool // the carrier refused because the recipient opted out with it (Twilio 21610)
	OccurredAt       time.Time
}

// Reply is an inbound message from the recipient.
type Reply struct {
	EventID    string
	Text       string
	IsStop     bool // STOP, ARRET, BAJA, … (case-insensitive)
	IsStart    bool // START, UNSTOP
	OccurredAt time.Time
}

// Click is one open of a short link.
type Click struct {
	EventID    string
	URL        string
	OccurredAt time.Time
}

// Unsubscribe is a confirmed unsubscribe link.
type Unsubscribe struct {
	EventID    string
	OccurredAt time.Time
}

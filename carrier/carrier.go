// Package carrier is what smsflow needs from an SMS carrier: send one message, classify what went
// wrong, find a message again by our reference, and read the carrier's webhooks. Adapters live in
// carrier/twilio and carrier/vonage; carrier/sim is a simulator speaking Twilio's wire format;
// carrier/dispatch adds circuit breakers, failover and exactly-once bookkeeping.
package carrier

import (
	"context"
	"smsflow/outcome"
	"time"
)

// Message is one SMS to send.
type Message struct {
	// ID is our message id: the idempotency key and client reference given to the carrier.
	ID   string
	From string // sender: E.164 number, short code or alphanumeric sender id
	To   string // E.164
	Text string
	// Encoding is "GSM-7" or "UCS-2" as computed by package encoding; Segments its part count.
	// Carriers that need it (Vonage type=unicode) use it; others detect the encoding themselves.
	Encoding string
	Segments int
	// StatusCallbackURL receives the carrier's delivery reports. Dispatch fills it when empty.
	StatusCallbackURL string
}

// Unicode reports whether the message needs UCS-2.
func (m Message) Unicode() bool { return m.Encoding == "UCS-2" || m.Encoding == "UCS2" }

// Receipt is the carrier's acknowledgement of a message.
type Receipt struct {
	Carrier          string
	CarrierMessageID string
	// PartIDs holds one id per part where the carrier answers per part (Vonage); the first is
	// CarrierMessageID.
	PartIDs []string
	// Status is where the carrier says the message is (usually queued).
	Status     outcome.Report
	Segments   int
	AcceptedAt time.Time
}

// Sender sends messages through one carrier.
type Sender interface {
	Send(ctx context.Context, m Message) (Receipt, error)
	Name() string
}

// Finder is implemented by carriers whose API can find a message by our reference: after an
// uncertain send, dispatch asks instead of sending again. Lookup returns ErrLookupUnsupported when
// the configured API cannot answer.
type Finder interface {
	Lookup(ctx context.Context, messageID string) (r Receipt, found bool, err error)
}

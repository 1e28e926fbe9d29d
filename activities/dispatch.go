package activities

import (
	"context"
	"errors"
	"smsflow/carrier"
	"smsflow/carrier/dispatch"
	"smsflow/outcome"
	"time"

	"go.temporal.io/sdk/temporal"
)

// DispatchInput is one send.
type DispatchInput struct {
	MessageID string
	PortalID  int64
	From      string
	To        string
	Text      string
	Segments  int
	Encoding  string
	// Channel, Country and MessageType let the activity check the country's window right before
	// the carrier call; empty (runs started before the check existed): no check.
	Channel     string
	Country     string
	MessageType string
}

// DispatchResult is the carrier's answer.
type DispatchResult struct {
	Carrier          string
	CarrierMessageID string
	Uncertain        bool // the carrier may have it; we could not tell and did not resend
	ErrorCode        outcome.Code
	ErrorMessage     string
	NumberInvalid    bool
	OptedOut         bool
	// DeferUntil is set when the window was closed at the moment of the call: nothing was sent,
	// and the message waits until then (DeferReason says why).
	DeferUntil  *time.Time
	DeferReason string
}

// Temporal error types of a dispatch that a retry may fix.
const (
	ErrTypeCarrierRateLimited = "CARRIER_RATE_LIMITED"
	ErrTypeCarrierBreakerOpen = "CARRIER_BREAKER_OPEN"
)

// Dispatch sends the message through the carrier layer.
func (a *Activities) Dispatch(ctx context.Context, in DispatchInput) (DispatchResult, error) {
	return a.Carrier.Dispatch(ctx, in)
}

// CarrierDispatcher adapts the carrier layer (breakers, failover, exactly-once attempts) to the
// Dispatch activity: a carrier's business refusal becomes a NOT_SENT outcome, an uncertain send a
// flagged SENT, and what a retry may fix an error with Temporal's retry decision.
type CarrierDispatcher struct {
	D *dispatch.Dispatcher
}

// Dispatch sends one message.
func (c CarrierDispatcher) Dispatch(ctx context.Context, in DispatchInput) (DispatchResult, error) {
	res, err := c.D.Send(ctx, carrier.Message{ID: in.MessageID, From: in.From, To: in.To, Text: in.Text,
		Encoding: in.Encoding, Segments: in.Segments})
	if err == nil {
		return DispatchResult{Carrier: res.Carrier, CarrierMessageID: res.CarrierMessageID}, nil
	}
	var ce *carrier.Error
	switch {
	case errors.Is(err, dispatch.ErrSendUncertain):
		out := DispatchResult{Uncertain: true, ErrorCode: outcome.SendUncertain,
			ErrorMessage: "the carrier may have accepted the message but did not answer; not resent to avoid a duplicate"}
		if errors.As(err, &ce) {
			out.Carrier = ce.Carrier
		}
		return out, nil
	case errors.As(err, &ce) && ce.Class == carrier.Permanent:
		out := DispatchResult{Carrier: ce.Carrier, ErrorCode: outcome.CarrierRejected, ErrorMessage: ce.Error(),
			NumberInvalid: ce.NumberInvalid, OptedOut: ce.OptedOut}
		switch {
		case ce.NumberInvalid:
			out.ErrorCode = outcome.NumberNotAssigned
		case ce.OptedOut:
			out.ErrorCode = outcome.OptedOut
		}
		return out, nil
	case errors.As(err, &ce) && ce.Class == carrier.RateLimited && ce.RetryAfter > 0:
		return DispatchResult{}, temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeCarrierRateLimited,
			temporal.ApplicationErrorOptions{NextRetryDelay: ce.RetryAfter, Cause: err})
	case errors.Is(err, dispatch.ErrBreakerOpen):
		// Fail fast; the activity's retry policy comes back once the breaker may have closed.
		return DispatchResult{}, temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeCarrierBreakerOpen,
			temporal.ApplicationErrorOptions{Cause: err})
	}
	return DispatchResult{}, err
}

package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"smsflow/carrier"
	"smsflow/carrier/dispatch"
	"smsflow/compliance"
	"smsflow/outcome"
)

// DispatchInput is one send.
//
// Channel, Country, Timezones and MessageType are what the country's window is checked with,
// right before the carrier call (the same as the render's send time: the number's region and
// time zones, the action's message type). A workflow started before they existed passes them
// zero: no Country or no MessageType means no window check, as before.
type DispatchInput struct {
	MessageID string `json:"MessageID"`
	PortalID  int64  `json:"PortalID"`
	From      string `json:"From"`
	To        string `json:"To"`
	Text      string `json:"Text"`
	Segments  int    `json:"Segments"`
	Encoding  string `json:"Encoding"`

	Channel     string   `json:"Channel"`     // the channel whose windows apply; only SMS windows exist, for every channel
	Country     string   `json:"Country"`     // rules country: the number's region, else the action's country
	Timezones   []string `json:"Timezones"`   // the number's time zones; empty: the country rule's own
	MessageType string   `json:"MessageType"` // marketing | transactional

	// Check, when set, is checked right before the carrier call (CheckBeforeDispatch: the
	// suppression list, consent, the portal's connection, the quotas); a refusal comes back as a
	// NOT_SENT result with Refused, a quota's defer as DeferUntil. A retry of a message that
	// already left is not checked again.
	Check *DispatchCheckInput `json:"Check"`
	// Sent, when set, is published (message log, HubSpot) once the carrier took the message, with
	// the carrier's answer filled in, in this activity: no step of its own follows the dispatch.
	Sent *StatusEvent `json:"Sent"`
}

// DispatchResult is the carrier's answer, or the window's.
type DispatchResult struct {
	Carrier          string       `json:"Carrier"`
	CarrierMessageID string       `json:"CarrierMessageID"`
	Uncertain        bool         `json:"Uncertain"` // the carrier may have it (or took part of it); we could not tell and did not resend
	ErrorCode        outcome.Code `json:"ErrorCode"`
	ErrorMessage     string       `json:"ErrorMessage"`
	NumberInvalid    bool         `json:"NumberInvalid"`
	OptedOut         bool         `json:"OptedOut"`
	// DeferUntil is set when the country's window was closed at the moment of the call: nothing
	// was sent and no attempt is left open; the message holds until then and dispatches again.
	DeferUntil  *time.Time `json:"DeferUntil"`
	DeferReason string     `json:"DeferReason"`
	// Refused: the pre-dispatch check refused the message (ErrorCode says why); no carrier saw it.
	Refused bool `json:"Refused"`
	// Published: the SENT status was published by the dispatch (DispatchInput.Sent).
	Published bool `json:"Published"`
}

// Temporal error types of a dispatch that a retry may fix.
const (
	ErrTypeCarrierRateLimited = "CARRIER_RATE_LIMITED"
	ErrTypeCarrierBreakerOpen = "CARRIER_BREAKER_OPEN"
	// ErrTypeWorkerStopping: the worker is stopping (a deploy) and starts no carrier call; the
	// retry runs on a worker that stays.
	ErrTypeWorkerStopping = "WORKER_STOPPING"
)

var errWorkerStopping = errors.New("the worker is stopping: no carrier call started")

// Dispatch sends the message through the carrier layer. It first takes the message's slot in its
// sender's pacing lane and waits for it when it is near; a far one comes back as DeferUntil.
// Right before each carrier call (every retry of this activity included) it checks the
// country's window, so a message whose window closed while it was retried comes back with
// DeferUntil instead of leaving (spread over the opening like the other wake-ups); and a worker
// that is stopping starts no new call.
func (a *Activities) Dispatch(ctx context.Context, in DispatchInput) (DispatchResult, error) {
	window := a.windowGate(in)
	// A message whose window is closed takes no slot: the gate sends it back to the hold.
	if closed, _ := windowClosed(window); !closed {
		if held, err := a.waitForSlot(ctx, in); err != nil || held != nil {
			if held == nil {
				return DispatchResult{}, err
			}
			return *held, err
		}
	}
	check := a.checkGate(ctx, in.Check)
	heldByCheck := false
	var stop <-chan struct{}
	if activity.IsActivity(ctx) {
		stop = activity.GetWorkerStopChannel(ctx)
	}
	gate := func(now time.Time) (dispatch.Hold, error) {
		select {
		case <-stop:
			return dispatch.Hold{}, errWorkerStopping
		default:
		}
		if check != nil {
			if hold, err := check(now); err != nil || !hold.Until.IsZero() {
				heldByCheck = err == nil // counted by the check, as a quota's hold
				return hold, err
			}
		}
		if window == nil {
			return dispatch.Hold{}, nil
		}
		return window(now)
	}
	res, err := a.Carrier.Dispatch(ctx, in, gate)
	var refused *checkRefusal
	if errors.As(err, &refused) {
		return DispatchResult{ErrorCode: refused.code, ErrorMessage: refused.message, Refused: true}, nil
	}
	if err == nil && res.DeferUntil != nil && !heldByCheck {
		countHold(holdDispatchWindow, in.Country, *res.DeferUntil)
	}
	if err == nil && in.Sent != nil && res.DeferUntil == nil && (res.ErrorCode == "" || res.Uncertain) {
		if err := a.publishSent(ctx, *in.Sent, res); err != nil {
			return DispatchResult{}, err // retried: the carrier's recorded answer comes back, nothing is sent twice
		}
		res.Published = true
	}
	return res, err
}

// publishSent publishes SENT with the carrier's answer.
func (a *Activities) publishSent(ctx context.Context, ev StatusEvent, res DispatchResult) error {
	ev.Carrier, ev.CarrierMessageID = res.Carrier, res.CarrierMessageID
	if res.Uncertain {
		ev.ErrorCode, ev.ErrorMessage = res.ErrorCode, res.ErrorMessage
	}
	return a.Publish(ctx, PublishInput{Event: &ev})
}

// windowGate holds a marketing message outside its country's window, on the compliance clock
// (Config.ComplianceClock); nil for an input without Country or MessageType.
func (a *Activities) windowGate(in DispatchInput) dispatch.Gate {
	if in.Country == "" || in.MessageType == "" {
		return nil
	}
	return func(now time.Time) (dispatch.Hold, error) {
		d, err := a.nextSendTime(now, in.Country, in.Timezones, in.MessageType)
		if err != nil || !d.Held {
			return dispatch.Hold{}, err
		}
		wake := a.spreadWake(d.SendAt, in.MessageID, in.Country, in.Timezones, in.MessageType)
		return dispatch.Hold{Until: wake, Reason: d.Reason + wakeNote(d.SendAt, wake)}, nil
	}
}

// windowClosed reports whether window (nil: none) holds the message now.
func windowClosed(window dispatch.Gate) (bool, error) {
	if window == nil {
		return false, nil
	}
	h, err := window(time.Now())
	return err == nil && !h.Until.IsZero(), err
}

// nextSendTime is the window's decision at `at`: the compliance rules see at moved by
// Config.ComplianceClock, and the send time comes back on the real clock.
func (a *Activities) nextSendTime(at time.Time, country string, zones []string, messageType string) (compliance.Decision, error) {
	category, err := compliance.ParseCategory(messageType)
	if err != nil {
		return compliance.Decision{}, err
	}
	clock := a.Config.ComplianceClock
	d, err := rules.NextSendTime(clock.At(at), compliance.Recipient{Country: country, Timezones: zones}, category)
	d.SendAt = clock.Real(d.SendAt)
	return d, err
}

// CarrierDispatcher adapts the carrier layer (breakers, failover, exactly-once attempts) to the
// Dispatch activity: a carrier's business refusal becomes a NOT_SENT outcome, an uncertain send a
// flagged SENT, a held message a DeferUntil, and what a retry may fix an error with Temporal's
// retry decision.
type CarrierDispatcher struct {
	D *dispatch.Dispatcher
}

// Dispatch sends one message if gate lets it leave right before the call.
func (c CarrierDispatcher) Dispatch(ctx context.Context, in DispatchInput, gate dispatch.Gate) (DispatchResult, error) {
	res, err := c.D.Send(ctx, carrier.Message{ID: in.MessageID, From: in.From, To: in.To, Text: in.Text,
		Encoding: in.Encoding, Segments: in.Segments}, gate)
	if err == nil {
		return DispatchResult{Carrier: res.Carrier, CarrierMessageID: res.CarrierMessageID}, nil
	}
	var held *dispatch.HeldError
	if errors.As(err, &held) {
		until := held.Until
		return DispatchResult{DeferUntil: &until, DeferReason: held.Reason}, nil
	}
	var ce *carrier.Error
	switch {
	case errors.Is(err, dispatch.ErrSendUncertain):
		out := DispatchResult{Uncertain: true, ErrorCode: outcome.SendUncertain,
			ErrorMessage: "the carrier may have accepted the message but did not answer; not resent to avoid a duplicate"}
		if errors.As(err, &ce) {
			out.Carrier = ce.Carrier
			if ce.Class == carrier.Partial {
				out.CarrierMessageID = firstPart(ce.PartIDs)
				out.ErrorMessage = fmt.Sprintf("the carrier took part of the message (%s); not resent, which would repeat the parts taken", ce.Message)
			}
		}
		return out, nil
	case errors.Is(err, errWorkerStopping):
		return DispatchResult{}, temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeWorkerStopping,
			temporal.ApplicationErrorOptions{Cause: err})
	case errors.Is(err, compliance.ErrCategory), errors.Is(err, compliance.ErrUnknownTimezone), errors.Is(err, compliance.ErrNoWindow):
		return DispatchResult{ErrorCode: outcome.ComplianceError, ErrorMessage: err.Error()}, nil
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

// firstPart is the carrier's id of the first part it took.
func firstPart(ids []string) string {
	for _, id := range ids {
		if id != "" {
			return id
		}
	}
	return ""
}

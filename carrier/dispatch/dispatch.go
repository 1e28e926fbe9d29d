// Package dispatch sends a message through the configured carriers: one circuit breaker per
// carrier, failover to a secondary carrier while the primary's breaker is open, a share of the
// messages sent to the secondary first while the primary's health says so (slow delivery
// reports, errors; see carrier/health), a gate checked
// right before every carrier call (the country's window), and exactly-once bookkeeping — every
// call to a carrier is recorded before it is made (prepared), marked sending right before its
// request leaves, and finished with the answer. A recorded acceptance is returned without calling
// again; a prepared attempt whose worker died never left and is sent again; an attempt that maybe
// left is resolved by asking the carrier (where its API can) rather than by sending again.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/sony/gobreaker/v2"

	"smsflow/carrier"
	"smsflow/carrier/health"
	"smsflow/metrics"
	"smsflow/outcome"
	"smsflow/store"
)

// Attempts records dispatch attempts; *store.Store implements it.
type Attempts interface {
	DispatchAttempts(ctx context.Context, messageID string) ([]store.DispatchAttempt, error)
	// StartAttempt records a prepared attempt; MarkSending and AbandonPrepared move it on only
	// while it is still prepared (else store.ErrConflict).
	StartAttempt(ctx context.Context, messageID, carrierName string) (int, error)
	MarkSending(ctx context.Context, messageID string, attempt int) error
	AbandonPrepared(ctx context.Context, messageID string, attempt int, reason string) error
	FinishAttempt(ctx context.Context, messageID string, attempt int, o store.AttemptOutcome) error
}

var (
	// ErrBreakerOpen: the carrier's circuit breaker is open and no secondary carrier could take
	// the message. Nothing was sent; the activity fails fast and Temporal retries later.
	ErrBreakerOpen = errors.New("dispatch: carrier circuit breaker open")
	// ErrSendUncertain: a carrier may have accepted the message but the answer was lost, and the
	// carrier cannot be asked; or it took a multipart message in part (a *carrier.Error of class
	// Partial in the chain). Sending again could duplicate it. The message ends SEND_UNCERTAIN.
	ErrSendUncertain = errors.New("dispatch: send outcome uncertain")
	// ErrAttemptLeaving: another worker's attempt of the message is leaving right now; a retry
	// finds its outcome.
	ErrAttemptLeaving = errors.New("dispatch: another attempt of the message is leaving")
)

// Hold keeps a message from leaving until Until, for a person's Reason.
type Hold struct {
	Until  time.Time
	Reason string
}

// Gate decides, right before each carrier call, whether the message may leave at now: a zero
// Hold lets it go; a Hold with Until set holds it (Send returns a *HeldError, having sent and
// recorded nothing); an error stops Send with that error, nothing sent.
type Gate func(now time.Time) (Hold, error)

// HeldError is Send's answer when its Gate held the message.
type HeldError struct{ Hold }

func (e *HeldError) Error() string {
	return "dispatch: held until " + e.Until.UTC().Format(time.RFC3339) + ": " + e.Reason
}

// Carrier is one carrier with its exactly-once policy.
type Carrier struct {
	Sender carrier.Sender
	// AtLeastOnce: after an uncertain send that cannot be resolved by a lookup, send again
	// (risking a duplicate) instead of returning ErrSendUncertain.
	AtLeastOnce bool
}

// Health says how much of the traffic the primary carrier takes now; *health.Monitor
// implements it.
type Health interface {
	PrimaryShare(ctx context.Context) float64
}

// Settings tune the breakers and the calls.
type Settings struct {
	BreakerFailures    int           // consecutive failures that open a breaker (default 5)
	BreakerOpenTimeout time.Duration // how long it stays open before one trial (default 30 s)
	SendTimeout        time.Duration // bound of one carrier call (default 10 s)
	// CallbackBaseURL is the API's public URL: a message without StatusCallbackURL gets
	// <base>/carriers/<carrier>/status?mid=<message id>.
	CallbackBaseURL string
	// Health, when set and a secondary carrier is configured, sends the messages the primary
	// should not take now (health.PrefersPrimary of their id) to the secondary first, the
	// primary staying their fallback. nil: the primary first, always.
	Health Health
	Log    *slog.Logger
}

// Result is the outcome of Send.
type Result struct {
	carrier.Receipt
	Attempt int // the dispatch attempt that was accepted
	// Recovered: the acceptance was found (recorded earlier, or by asking the carrier) rather
	// than obtained by this call's send.
	Recovered bool
}

type route struct {
	name        string
	sender      carrier.Sender
	finder      carrier.Finder
	atLeastOnce bool
	cb          *gobreaker.CircuitBreaker[carrier.Receipt]
}

// Dispatcher sends through a primary and an optional secondary carrier.
type Dispatcher struct {
	attempts Attempts
	routes   []*route // primary first
	byName   map[string]*route
	s        Settings
	log      *slog.Logger
}

// New builds a dispatcher. secondary may be nil.
func New(attempts Attempts, primary Carrier, secondary *Carrier, s Settings) *Dispatcher {
	if s.BreakerFailures <= 0 {
		s.BreakerFailures = 5
	}
	if s.BreakerOpenTimeout <= 0 {
		s.BreakerOpenTimeout = 30 * time.Second
	}
	if s.SendTimeout <= 0 {
		s.SendTimeout = 10 * time.Second
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{attempts: attempts, byName: map[string]*route{}, s: s, log: log}
	d.add(primary)
	if secondary != nil && secondary.Sender != nil && secondary.Sender.Name() != primary.Sender.Name() {
		d.add(*secondary)
	}
	return d
}

func (d *Dispatcher) add(c Carrier) {
	r := &route{name: c.Sender.Name(), sender: c.Sender, atLeastOnce: c.AtLeastOnce}
	r.finder, _ = c.Sender.(carrier.Finder)
	failures := uint32(d.s.BreakerFailures)
	r.cb = gobreaker.NewCircuitBreaker[carrier.Receipt](gobreaker.Settings{
		Name:        r.name,
		MaxRequests: 1,
		Timeout:     d.s.BreakerOpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		// A refused message (or one taken in part) says the carrier is up: only temporary,
		// rate-limited and uncertain failures count against it.
		IsSuccessful: func(err error) bool {
			c := carrier.ClassOf(err)
			return err == nil || c == carrier.Permanent || c == carrier.Partial
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			d.log.Warn("carrier breaker", "carrier", name, "from", from.String(), "to", to.String())
			metrics.BreakerState.WithLabelValues(name).Set(breakerValue(to))
		},
	})
	metrics.BreakerState.WithLabelValues(r.name).Set(breakerValue(gobreaker.StateClosed))
	d.routes = append(d.routes, r)
	d.byName[r.name] = r
}

// breakerValue is a breaker state as the smsflow_carrier_breaker_state gauge shows it.
func breakerValue(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	}
	return 0
}

// BreakerState is the state of a carrier's breaker (closed for an unknown carrier).
func (d *Dispatcher) BreakerState(carrierName string) gobreaker.State {
	if r := d.byName[carrierName]; r != nil {
		return r.cb.State()
	}
	return gobreaker.StateClosed
}

// Send hands m to a carrier at most once (unless the carrier is configured at-least-once), if
// gate (nil: always open) lets it leave right before the call.
//
// Errors: a *carrier.Error of class Permanent (NOT_SENT; see NumberInvalid, OptedOut), ErrSendUncertain
// (SEND_UNCERTAIN, do not retry), *HeldError (nothing sent: hold until its time), ErrBreakerOpen
// (retry later), the gate's error, and anything else is temporary (retry; a retried Send resolves
// what this one left open).
func (d *Dispatcher) Send(ctx context.Context, m carrier.Message, gate Gate) (Result, error) {
	if m.ID == "" {
		return Result{}, &carrier.Error{Carrier: "dispatch", Class: carrier.Permanent, Message: "message without id"}
	}
	past, err := d.attempts.DispatchAttempts(ctx, m.ID)
	if err != nil {
		return Result{}, err
	}
	for _, a := range past {
		switch a.State {
		case store.AttemptAccepted:
			return recorded(a), nil
		case store.AttemptPartial:
			return Result{}, partial(a)
		}
	}
	for _, a := range past {
		switch {
		case a.State == store.AttemptPrepared:
			// Its call ended (the worker died or gave up) before the request left: send again.
			err := d.attempts.AbandonPrepared(ctx, m.ID, a.Attempt, "never left: the call ended before the request was sent")
			if errors.Is(err, store.ErrConflict) {
				return Result{}, fmt.Errorf("%w: attempt %d of %s", ErrAttemptLeaving, a.Attempt, m.ID)
			}
			if err != nil {
				return Result{}, err
			}
		case a.MaybeLeft():
			res, ok, err := d.resolve(ctx, m, a)
			if err != nil || ok {
				return res, err
			}
		}
	}
	var lastErr error
	for _, r := range d.order(ctx, m.ID) {
		if r.cb.State() == gobreaker.StateOpen {
			lastErr = fmt.Errorf("%w: %s", ErrBreakerOpen, r.name)
			continue
		}
		if gate != nil {
			hold, err := gate(time.Now())
			if err != nil {
				return Result{}, err
			}
			if !hold.Until.IsZero() {
				return Result{}, &HeldError{Hold: hold}
			}
		}
		res, err := d.sendVia(ctx, m, r)
		if errors.Is(err, ErrBreakerOpen) {
			lastErr = err
			continue
		}
		return res, err
	}
	return Result{}, lastErr
}

// order is the order in which messageID tries the carriers: the primary first, unless the
// primary's health gives the message to the secondary.
func (d *Dispatcher) order(ctx context.Context, messageID string) []*route {
	if len(d.routes) < 2 || d.s.Health == nil || health.PrefersPrimary(messageID, d.s.Health.PrimaryShare(ctx)) {
		return d.routes
	}
	return []*route{d.routes[1], d.routes[0]}
}

// partial is the error of a message a carrier took in part.
func partial(a store.DispatchAttempt) error {
	return fmt.Errorf("%w: %w", ErrSendUncertain, &carrier.Error{Carrier: a.Carrier, Class: carrier.Partial, Code: a.ErrorCode,
		Message: a.ErrorMessage, PartIDs: a.PartIDs})
}

func recorded(a store.DispatchAttempt) Result {
	at := a.StartedAt
	if a.FinishedAt != nil {
		at = *a.FinishedAt
	}
	return Result{Receipt: carrier.Receipt{Carrier: a.Carrier, CarrierMessageID: a.CarrierMessageID, Status: outcome.Report(a.CarrierStatus),
		Segments: a.Segments, AcceptedAt: at}, Attempt: a.Attempt, Recovered: true}
}

// resolve settles an attempt whose outcome is unknown (the answer was lost, or the worker died
// mid-call): accepted if the carrier knows the message, abandoned (ok=false, so Send goes on) if
// it does not or the carrier is at-least-once, ErrSendUncertain otherwise.
func (d *Dispatcher) resolve(ctx context.Context, m carrier.Message, a store.DispatchAttempt) (Result, bool, error) {
	r := d.byName[a.Carrier]
	if r == nil {
		return Result{}, false, fmt.Errorf("%w: attempt %d went to %s, which is no longer configured", ErrSendUncertain, a.Attempt, a.Carrier)
	}
	if r.finder != nil {
		rec, found, err := r.finder.Lookup(ctx, m.ID)
		switch {
		case err == nil && found:
			return d.accept(ctx, m, a.Attempt, r, rec, true)
		case err == nil:
			if err := d.finish(ctx, m.ID, a.Attempt, store.AttemptOutcome{State: store.AttemptAbandoned,
				ErrorMessage: "the carrier has no message with our reference"}); err != nil {
				return Result{}, false, err
			}
			return Result{}, false, nil
		case !errors.Is(err, carrier.ErrLookupUnsupported):
			return Result{}, false, fmt.Errorf("dispatch: resolve attempt %d of %s: %w", a.Attempt, m.ID, err)
		}
	}
	if r.atLeastOnce {
		if err := d.finish(ctx, m.ID, a.Attempt, store.AttemptOutcome{State: store.AttemptAbandoned,
			ErrorMessage: "outcome unknown; sent again (at-least-once)"}); err != nil {
			return Result{}, false, err
		}
		return Result{}, false, nil
	}
	return Result{}, false, fmt.Errorf("%w: attempt %d to %s ended without an answer and %s cannot be asked",
		ErrSendUncertain, a.Attempt, a.Carrier, a.Carrier)
}

func (d *Dispatcher) sendVia(ctx context.Context, m carrier.Message, r *route) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err // the activity is over: start no call
	}
	n, err := d.attempts.StartAttempt(ctx, m.ID, r.name)
	if err != nil {
		return Result{}, err
	}
	if m.StatusCallbackURL == "" && d.s.CallbackBaseURL != "" {
		m.StatusCallbackURL = CallbackURL(d.s.CallbackBaseURL, r.name, m.ID)
	}
	// The call is bounded by SendTimeout alone, not by the caller's context: a worker stopping
	// (or an activity deadline) must not cut a request mid-flight, which would leave the message
	// uncertain.
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.s.SendTimeout)
	defer cancel()
	markSending := func() error { return d.markSending(ctx, m.ID, n) }
	if _, ok := r.sender.(carrier.Departing); ok {
		callCtx = carrier.WithDeparture(callCtx, markSending)
	} else if err := markSending(); err != nil {
		// Still prepared: a retried Send gives it up and sends.
		return Result{}, err
	}
	rec, err := r.cb.Execute(func() (carrier.Receipt, error) { return r.sender.Send(callCtx, m) })
	switch {
	case err == nil:
		res, _, err := d.accept(ctx, m, n, r, rec, false)
		return res, err
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		if ferr := d.finish(ctx, m.ID, n, store.AttemptOutcome{State: store.AttemptFailed, ErrorClass: "breaker-open"}); ferr != nil {
			return Result{}, ferr
		}
		return Result{}, fmt.Errorf("%w: %s", ErrBreakerOpen, r.name)
	}
	var ce *carrier.Error
	if errors.As(err, &ce) && ce.Class == carrier.Partial {
		o := store.AttemptOutcome{State: store.AttemptPartial, ErrorClass: ce.Class.String(), ErrorCode: ce.Code, ErrorMessage: ce.Message,
			PartIDs: ce.PartIDs, Segments: len(ce.PartIDs)}
		for _, id := range ce.PartIDs {
			if id != "" {
				o.CarrierMessageID = id
				break
			}
		}
		d.log.Warn("carrier took a multipart message in part", "carrier", r.name, "message_id", m.ID, "attempt", n, "parts", len(ce.PartIDs))
		if ferr := d.finish(ctx, m.ID, n, o); ferr != nil {
			// Left sending: a retried Send treats it as uncertain, never as unsent.
			d.log.Error("dispatch: recording a partial attempt failed", "carrier", r.name, "message_id", m.ID, "attempt", n, "error", ferr)
		}
		return Result{}, fmt.Errorf("%w: %w", ErrSendUncertain, err)
	}
	o := store.AttemptOutcome{State: store.AttemptFailed, ErrorClass: carrier.ClassOf(err).String(), ErrorMessage: err.Error()}
	if errors.As(err, &ce) {
		o.ErrorCode = ce.Code
	}
	if carrier.ClassOf(err) != carrier.Uncertain {
		if ferr := d.finish(ctx, m.ID, n, o); ferr != nil {
			return Result{}, errors.Join(err, ferr)
		}
		return Result{}, err
	}
	o.State = store.AttemptUncertain
	if ferr := d.finish(ctx, m.ID, n, o); ferr != nil {
		return Result{}, errors.Join(err, ferr)
	}
	d.log.Warn("carrier send uncertain", "carrier", r.name, "message_id", m.ID, "attempt", n)
	// Ask at once where the carrier allows; otherwise decide by policy.
	a := store.DispatchAttempt{MessageID: m.ID, Attempt: n, Carrier: r.name, State: store.AttemptUncertain}
	if r.finder != nil {
		rec, found, lerr := r.finder.Lookup(ctx, m.ID)
		switch {
		case lerr == nil && found:
			res, _, err := d.accept(ctx, m, n, r, rec, true)
			return res, err
		case lerr == nil, !errors.Is(lerr, carrier.ErrLookupUnsupported):
			// Not visible yet, or the carrier is not answering: a retried Send looks again.
			return Result{}, err
		}
	}
	if r.atLeastOnce {
		return Result{}, err // a retried Send abandons the attempt and sends again
	}
	_, _, rerr := d.resolve(ctx, m, a)
	return Result{}, errors.Join(rerr, err)
}

func (d *Dispatcher) accept(ctx context.Context, m carrier.Message, attempt int, r *route, rec carrier.Receipt, recovered bool) (Result, bool, error) {
	rec.Carrier = r.name
	if rec.AcceptedAt.IsZero() {
		rec.AcceptedAt = time.Now().UTC()
	}
	err := d.finish(ctx, m.ID, attempt, store.AttemptOutcome{State: store.AttemptAccepted, CarrierMessageID: rec.CarrierMessageID,
		CarrierStatus: string(rec.Status), Segments: rec.Segments})
	if err != nil {
		// The carrier has the message: report it even though the bookkeeping failed (a later
		// Send would find this attempt started and resolve it).
		d.log.Error("dispatch: recording an accepted attempt failed", "carrier", r.name, "message_id", m.ID, "attempt", attempt, "error", err)
	}
	return Result{Receipt: rec, Attempt: attempt, Recovered: recovered}, true, nil
}

// markSending records, right before the request leaves, that it maybe left. It runs on the HTTP
// client's goroutine with the request waiting: bounded, and not cut by the caller's context.
func (d *Dispatcher) markSending(ctx context.Context, messageID string, attempt int) error {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return d.attempts.MarkSending(mctx, messageID, attempt)
}

// finish records an outcome even when the caller's context is done: the call already happened.
func (d *Dispatcher) finish(ctx context.Context, messageID string, attempt int, o store.AttemptOutcome) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return d.attempts.FinishAttempt(fctx, messageID, attempt, o)
}

// CallbackURL is the status callback URL of a message sent through carrierName. Vonage receipts
// carry client-ref (signed), so only Twilio-format carriers get our id in the query, which
// Twilio's signature covers.
func CallbackURL(base, carrierName, messageID string) string {
	u := base + "/carriers/" + url.PathEscape(carrierName) + "/status"
	if carrierName != "vonage" {
		u += "?mid=" + url.QueryEscape(messageID)
	}
	return u
}

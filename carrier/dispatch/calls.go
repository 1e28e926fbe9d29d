package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"

	"smsflow/carrier"
	"smsflow/metrics"
	"smsflow/store"
	"smsflow/voice"
)

// Calls are placed as messages are sent, with one stronger rule: a call is never placed twice.
// Every placement is recorded in dispatch_attempts under the call id before the carrier call
// (prepared), marked sending as its request leaves, and finished with the answer. A call that
// maybe left is looked up at its carrier; when the carrier cannot be asked it stays uncertain
// (ErrSendUncertain), whatever CARRIER_AT_LEAST_ONCE says: a person's phone ringing twice is
// worse than a call missed.

// CallAttempts is the bookkeeping of placements; *store.Store implements it.
type CallAttempts interface {
	Attempts
	// RecordCallPlaced notes the carrier and its call id beside the call's script.
	RecordCallPlaced(ctx context.Context, callID, caller, carrierName, carrierCallID string) error
}

// CallSettings tune the call placer.
type CallSettings struct {
	Settings
	// LookupSettle is how long after an uncertain placement a carrier's "no such call" is
	// believed: before, the carrier's list may not show the call yet, and the placement stays
	// unresolved (a retry looks again). Default 30 s.
	LookupSettle time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// lookupMargin widens a lookup's window before the attempt: the carrier's clock may differ from
// ours. A call of another message found in it is taken as this one's: a call missed rather than
// a number called twice.
const lookupMargin = time.Minute

type callRoute struct {
	name   string
	caller carrier.Caller
	finder carrier.CallFinder
	cb     *gobreaker.CircuitBreaker[voice.Receipt]
}

// CallPlacer places calls through a primary and an optional secondary carrier: a voice.Placer.
type CallPlacer struct {
	attempts CallAttempts
	routes   []*callRoute
	byName   map[string]*callRoute
	s        CallSettings
	log      *slog.Logger
}

var _ voice.Placer = (*CallPlacer)(nil)

// NewCallPlacer builds a placer. secondary may be nil.
func NewCallPlacer(attempts CallAttempts, primary carrier.Caller, secondary carrier.Caller, s CallSettings) *CallPlacer {
	if s.BreakerFailures <= 0 {
		s.BreakerFailures = 5
	}
	if s.BreakerOpenTimeout <= 0 {
		s.BreakerOpenTimeout = 30 * time.Second
	}
	if s.SendTimeout <= 0 {
		s.SendTimeout = 10 * time.Second
	}
	if s.LookupSettle <= 0 {
		s.LookupSettle = 30 * time.Second
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &CallPlacer{attempts: attempts, byName: map[string]*callRoute{}, s: s, log: log}
	p.add(primary)
	if secondary != nil && secondary.Name() != primary.Name() {
		p.add(secondary)
	}
	return p
}

func (p *CallPlacer) add(c carrier.Caller) {
	r := &callRoute{name: c.Name(), caller: c}
	r.finder, _ = c.(carrier.CallFinder)
	// Its own breaker, apart from the carrier's SMS one: the Calls API can be down alone.
	label := r.name + "-voice"
	failures := uint32(p.s.BreakerFailures)
	r.cb = gobreaker.NewCircuitBreaker[voice.Receipt](gobreaker.Settings{
		Name:        label,
		MaxRequests: 1,
		Timeout:     p.s.BreakerOpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsSuccessful: func(err error) bool {
			return err == nil || carrier.ClassOf(err) == carrier.Permanent
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			p.log.Warn("carrier breaker", "carrier", name, "from", from.String(), "to", to.String())
			metrics.BreakerState.WithLabelValues(name).Set(breakerValue(to))
		},
	})
	metrics.BreakerState.WithLabelValues(label).Set(breakerValue(gobreaker.StateClosed))
	p.routes = append(p.routes, r)
	p.byName[r.name] = r
}

// BreakerState is the state of a carrier's voice breaker (closed for an unknown carrier).
func (p *CallPlacer) BreakerState(carrierName string) gobreaker.State {
	if r := p.byName[carrierName]; r != nil {
		return r.cb.State()
	}
	return gobreaker.StateClosed
}

// PlaceCall places c once. The call's script must be stored first (store.SaveCallScript): the
// carrier fetches it from our API as soon as the call is answered.
//
// Errors: a *carrier.Error of class Permanent (the carrier refused the call; see NumberInvalid),
// ErrSendUncertain (the call may have been placed and cannot be found: never placed again),
// ErrBreakerOpen (retry later), and anything else is temporary (retry: a retried PlaceCall
// resolves what this one left open).
func (p *CallPlacer) PlaceCall(ctx context.Context, c voice.Call) (voice.Receipt, error) {
	if c.ID == "" {
		return voice.Receipt{}, &carrier.Error{Carrier: "dispatch", Class: carrier.Permanent, Message: "call without id"}
	}
	past, err := p.attempts.DispatchAttempts(ctx, c.ID)
	if err != nil {
		return voice.Receipt{}, err
	}
	for _, a := range past {
		if a.State == store.AttemptAccepted {
			return recordedCall(a), nil
		}
	}
	for _, a := range past {
		switch {
		case a.State == store.AttemptPrepared:
			err := p.attempts.AbandonPrepared(ctx, c.ID, a.Attempt, "never left: the call ended before the request was sent")
			if errors.Is(err, store.ErrConflict) {
				return voice.Receipt{}, fmt.Errorf("%w: attempt %d of %s", ErrAttemptLeaving, a.Attempt, c.ID)
			}
			if err != nil {
				return voice.Receipt{}, err
			}
		case a.MaybeLeft():
			rec, ok, err := p.resolve(ctx, c, a)
			if err != nil || ok {
				return rec, err
			}
		}
	}
	var lastErr error
	for _, r := range p.routes {
		if r.cb.State() == gobreaker.StateOpen {
			lastErr = fmt.Errorf("%w: %s", ErrBreakerOpen, r.cb.Name())
			continue
		}
		rec, err := p.placeVia(ctx, c, r)
		if errors.Is(err, ErrBreakerOpen) {
			lastErr = err
			continue
		}
		return rec, err
	}
	return voice.Receipt{}, lastErr
}

func recordedCall(a store.DispatchAttempt) voice.Receipt {
	at := a.StartedAt
	if a.FinishedAt != nil {
		at = *a.FinishedAt
	}
	return voice.Receipt{Carrier: a.Carrier, CarrierCallID: a.CarrierMessageID, PlacedAt: at}
}

// request is the call as route r places it, with the webhooks of our API.
func (p *CallPlacer) request(c voice.Call, r *callRoute) carrier.CallRequest {
	req := carrier.CallRequest{Call: c}
	if p.s.CallbackBaseURL != "" {
		req.AnswerURL = carrier.VoiceURL(p.s.CallbackBaseURL, r.name, "answer", c.ID, nil)
		req.StatusURL = carrier.VoiceURL(p.s.CallbackBaseURL, r.name, "status", c.ID, nil)
	}
	return req
}

// resolve settles a placement that maybe left: accepted when the carrier has the call; abandoned
// (ok=false: PlaceCall goes on) when the carrier says it has none and the attempt is older than
// LookupSettle; ErrSendUncertain when the carrier cannot be asked; a temporary error otherwise.
func (p *CallPlacer) resolve(ctx context.Context, c voice.Call, a store.DispatchAttempt) (voice.Receipt, bool, error) {
	r := p.byName[a.Carrier]
	if r == nil {
		return voice.Receipt{}, false, fmt.Errorf("%w: attempt %d went to %s, which is no longer configured", ErrSendUncertain, a.Attempt, a.Carrier)
	}
	if r.finder == nil {
		return voice.Receipt{}, false, fmt.Errorf("%w: attempt %d to %s ended without an answer and %s cannot be asked",
			ErrSendUncertain, a.Attempt, a.Carrier, a.Carrier)
	}
	rec, found, err := r.finder.FindCall(ctx, p.request(c, r), a.StartedAt.Add(-lookupMargin))
	switch {
	case err == nil && found:
		return p.accept(ctx, c, a.Attempt, r, rec, true)
	case errors.Is(err, carrier.ErrLookupUnsupported):
		return voice.Receipt{}, false, fmt.Errorf("%w: attempt %d to %s ended without an answer and %s cannot be asked",
			ErrSendUncertain, a.Attempt, a.Carrier, a.Carrier)
	case err != nil:
		return voice.Receipt{}, false, fmt.Errorf("dispatch: resolve call attempt %d of %s: %w", a.Attempt, c.ID, err)
	case p.s.Now().Sub(a.StartedAt) < p.s.LookupSettle:
		return voice.Receipt{}, false, fmt.Errorf("dispatch: call attempt %d of %s not found at %s yet; looking again later", a.Attempt, c.ID, a.Carrier)
	}
	if err := p.finish(ctx, c.ID, a.Attempt, store.AttemptOutcome{State: store.AttemptAbandoned,
		ErrorMessage: "the carrier has no call placed for it"}); err != nil {
		return voice.Receipt{}, false, err
	}
	return voice.Receipt{}, false, nil
}

func (p *CallPlacer) placeVia(ctx context.Context, c voice.Call, r *callRoute) (voice.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return voice.Receipt{}, err
	}
	started := p.s.Now()
	n, err := p.attempts.StartAttempt(ctx, c.ID, r.name)
	if err != nil {
		return voice.Receipt{}, err
	}
	req := p.request(c, r)
	// Bounded by SendTimeout alone: a stopping worker must not cut a placement mid-flight.
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.s.SendTimeout)
	defer cancel()
	markSending := func() error {
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return p.attempts.MarkSending(mctx, c.ID, n)
	}
	if _, ok := r.caller.(carrier.Departing); ok {
		callCtx = carrier.WithDeparture(callCtx, markSending)
	} else if err := markSending(); err != nil {
		return voice.Receipt{}, err
	}
	rec, err := r.cb.Execute(func() (voice.Receipt, error) { return r.caller.PlaceCall(callCtx, req) })
	switch {
	case err == nil:
		rec, _, err := p.accept(ctx, c, n, r, rec, false)
		return rec, err
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		if ferr := p.finish(ctx, c.ID, n, store.AttemptOutcome{State: store.AttemptFailed, ErrorClass: "breaker-open"}); ferr != nil {
			return voice.Receipt{}, ferr
		}
		return voice.Receipt{}, fmt.Errorf("%w: %s", ErrBreakerOpen, r.cb.Name())
	}
	o := store.AttemptOutcome{State: store.AttemptFailed, ErrorClass: carrier.ClassOf(err).String(), ErrorMessage: err.Error()}
	var ce *carrier.Error
	if errors.As(err, &ce) {
		o.ErrorCode = ce.Code
	}
	if carrier.ClassOf(err) != carrier.Uncertain {
		if ferr := p.finish(ctx, c.ID, n, o); ferr != nil {
			return voice.Receipt{}, errors.Join(err, ferr)
		}
		return voice.Receipt{}, err
	}
	o.State = store.AttemptUncertain
	if ferr := p.finish(ctx, c.ID, n, o); ferr != nil {
		return voice.Receipt{}, errors.Join(err, ferr)
	}
	p.log.Warn("call placement uncertain", "carrier", r.name, "message_id", c.ID, "portal_id", c.PortalID, "attempt", n)
	if r.finder == nil {
		return voice.Receipt{}, fmt.Errorf("%w: %w", ErrSendUncertain, err)
	}
	found, ok, lerr := r.finder.FindCall(ctx, req, started.Add(-lookupMargin))
	switch {
	case lerr == nil && ok:
		rec, _, err := p.accept(ctx, c, n, r, found, true)
		return rec, err
	case errors.Is(lerr, carrier.ErrLookupUnsupported):
		return voice.Receipt{}, fmt.Errorf("%w: %w", ErrSendUncertain, err)
	}
	// Not visible yet, or the carrier is not answering: a retried PlaceCall looks again.
	return voice.Receipt{}, err
}

func (p *CallPlacer) accept(ctx context.Context, c voice.Call, attempt int, r *callRoute, rec voice.Receipt, recovered bool) (voice.Receipt, bool, error) {
	rec.Carrier = r.name
	if rec.PlacedAt.IsZero() {
		rec.PlacedAt = p.s.Now().UTC()
	}
	if err := p.finish(ctx, c.ID, attempt, store.AttemptOutcome{State: store.AttemptAccepted, CarrierMessageID: rec.CarrierCallID}); err != nil {
		// The carrier has the call: report it even though the bookkeeping failed.
		p.log.Error("dispatch: recording a placed call failed", "carrier", r.name, "message_id", c.ID, "attempt", attempt, "error", err)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.attempts.RecordCallPlaced(fctx, c.ID, c.From, r.name, rec.CarrierCallID); err != nil {
		p.log.Error("dispatch: noting a placed call beside its script failed", "carrier", r.name, "message_id", c.ID, "error", err)
	}
	if recovered {
		p.log.Info("call placement found at the carrier", "carrier", r.name, "message_id", c.ID, "attempt", attempt)
	}
	return rec, true, nil
}

func (p *CallPlacer) finish(ctx context.Context, callID string, attempt int, o store.AttemptOutcome) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return p.attempts.FinishAttempt(fctx, callID, attempt, o)
}

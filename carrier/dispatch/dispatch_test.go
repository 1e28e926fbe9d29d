package dispatch_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"smsflow/carrier"
	"smsflow/carrier/dispatch"
	"smsflow/carrier/sim"
	"smsflow/carrier/twilio"
	"smsflow/store"
)

// memAttempts is an in-memory dispatch.Attempts (the PostgreSQL one is tested in store_test).
type memAttempts struct {
	mu sync.Mutex
	m  map[string][]store.DispatchAttempt
}

func (a *memAttempts) DispatchAttempts(_ context.Context, id string) ([]store.DispatchAttempt, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]store.DispatchAttempt(nil), a.m[id]...), nil
}

func (a *memAttempts) StartAttempt(_ context.Context, id, c string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.m[id]) + 1
	a.m[id] = append(a.m[id], store.DispatchAttempt{MessageID: id, Attempt: n, Carrier: c, State: store.AttemptStarted})
	return n, nil
}

func (a *memAttempts) FinishAttempt(_ context.Context, id string, n int, o store.AttemptOutcome) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	at := &a.m[id][n-1]
	at.State, at.CarrierMessageID, at.CarrierStatus, at.ErrorCode = o.State, o.CarrierMessageID, o.CarrierStatus, o.ErrorCode
	return nil
}

func newAttempts() *memAttempts { return &memAttempts{m: map[string][]store.DispatchAttempt{}} }

func newSim(t *testing.T, name string, o sim.Options, lookup bool) (*sim.Sim, carrier.Sender) {
	t.Helper()
	s := sim.New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); s.Close() })
	return s, twilio.New(twilio.Options{Name: name, BaseURL: srv.URL, AccountSID: "AC", AuthToken: "t", ReferenceLookup: lookup})
}

var settings = dispatch.Settings{BreakerFailures: 3, BreakerOpenTimeout: 50 * time.Millisecond, SendTimeout: 200 * time.Millisecond,
	CallbackBaseURL: "http://api.test"}

func msg(id string) carrier.Message {
	return carrier.Message{ID: id, From: "+15005550006", To: "+33612345678", Text: "Hi"}
}

func TestAcceptedOnceThenRecorded(t *testing.T) {
	s, snd := newSim(t, "sim", sim.Options{}, true)
	d := dispatch.New(newAttempts(), dispatch.Carrier{Sender: snd}, nil, settings)
	r1, err := d.Send(context.Background(), msg("m1"))
	if err != nil || r1.Recovered || r1.Attempt != 1 {
		t.Fatalf("%+v %v", r1, err)
	}
	r2, err := d.Send(context.Background(), msg("m1"))
	if err != nil || !r2.Recovered || r2.CarrierMessageID != r1.CarrierMessageID {
		t.Fatalf("second Send: %+v %v", r2, err)
	}
	if s.Sends("m1") != 1 {
		t.Fatalf("carrier called %d times, want 1", s.Sends("m1"))
	}
}

func TestBreakerOpensUnderFailuresAndClosesAfter(t *testing.T) {
	s, snd := newSim(t, "sim", sim.Options{Error5xx: 1}, true)
	d := dispatch.New(newAttempts(), dispatch.Carrier{Sender: snd}, nil, settings)
	for i := range 3 {
		if _, err := d.Send(context.Background(), msg("b"+string(rune('a'+i)))); !errors.Is(err, carrier.ErrTemporary) {
			t.Fatalf("send %d: %v, want temporary", i, err)
		}
	}
	if d.BreakerState("sim") != gobreaker.StateOpen {
		t.Fatalf("breaker %v after 3 failures, want open", d.BreakerState("sim"))
	}
	before := s.Stats().SendRequests
	if _, err := d.Send(context.Background(), msg("b-open")); !errors.Is(err, dispatch.ErrBreakerOpen) {
		t.Fatalf("with the breaker open: %v, want ErrBreakerOpen", err)
	}
	if s.Stats().SendRequests != before {
		t.Fatal("an open breaker must not call the carrier")
	}
	s.SetFaults(0, 0, 0)
	time.Sleep(settings.BreakerOpenTimeout + 20*time.Millisecond) // let the breaker go half-open
	if _, err := d.Send(context.Background(), msg("b-after")); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if d.BreakerState("sim") != gobreaker.StateClosed {
		t.Fatalf("breaker %v after a success, want closed", d.BreakerState("sim"))
	}
}

func TestFailoverToSecondary(t *testing.T) {
	p, primary := newSim(t, "sim", sim.Options{Error5xx: 1}, true)
	sec, secondary := newSim(t, "backup", sim.Options{}, true)
	d := dispatch.New(newAttempts(), dispatch.Carrier{Sender: primary}, &dispatch.Carrier{Sender: secondary}, settings)
	for i := range 3 {
		_, _ = d.Send(context.Background(), msg("f"+string(rune('a'+i))))
	}
	r, err := d.Send(context.Background(), msg("f-over"))
	if err != nil || r.Carrier != "backup" {
		t.Fatalf("%+v %v, want sent through the secondary", r, err)
	}
	if p.Sends("f-over") != 0 || sec.Sends("f-over") != 1 {
		t.Fatalf("primary got %d, secondary %d", p.Sends("f-over"), sec.Sends("f-over"))
	}
}

// The simulator takes the message and then never answers: the adapter times out. Retried Sends
// find it by reference instead of sending again.
func TestExactlyOnceUnderTimeouts(t *testing.T) {
	s, snd := newSim(t, "sim", sim.Options{Timeout: 1, Hang: 5 * time.Second}, true)
	d := dispatch.New(newAttempts(), dispatch.Carrier{Sender: snd}, nil, settings)
	r, err := d.Send(context.Background(), msg("x1"))
	if err != nil || !r.Recovered || r.CarrierMessageID == "" {
		t.Fatalf("%+v %v, want the message found by lookup", r, err)
	}
	s.SetFaults(0, 0, 0)
	for range 3 { // Temporal retries of the activity
		if r2, err := d.Send(context.Background(), msg("x1")); err != nil || r2.CarrierMessageID != r.CarrierMessageID {
			t.Fatalf("retry: %+v %v", r2, err)
		}
	}
	if n := s.Sends("x1"); n != 1 {
		t.Fatalf("the simulator received message x1 %d times, want exactly 1", n)
	}
}

// A worker died mid-call: the attempt is "started" without outcome. The next Send asks.
func TestCrashedAttemptIsResolvedByLookup(t *testing.T) {
	s, snd := newSim(t, "sim", sim.Options{}, true)
	att := newAttempts()
	d := dispatch.New(att, dispatch.Carrier{Sender: snd}, nil, settings)
	if _, err := snd.Send(context.Background(), msg("c1")); err != nil { // the call the dead worker made
		t.Fatal(err)
	}
	_, _ = att.StartAttempt(context.Background(), "c1", "sim")
	r, err := d.Send(context.Background(), msg("c1"))
	if err != nil || !r.Recovered || r.Attempt != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	if s.Sends("c1") != 1 {
		t.Fatalf("sent %d times", s.Sends("c1"))
	}
	// Started but never reached the carrier: the lookup finds nothing, so it is sent now.
	_, _ = att.StartAttempt(context.Background(), "c2", "sim")
	if r, err := d.Send(context.Background(), msg("c2")); err != nil || r.Recovered || r.Attempt != 2 {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestSendUncertainWithoutLookup(t *testing.T) {
	s, snd := newSim(t, "twilio", sim.Options{Timeout: 1, Hang: 5 * time.Second}, false)
	d := dispatch.New(newAttempts(), dispatch.Carrier{Sender: snd}, nil, settings)
	if _, err := d.Send(context.Background(), msg("u1")); !errors.Is(err, dispatch.ErrSendUncertain) {
		t.Fatalf("got %v, want ErrSendUncertain", err)
	}
	s.SetFaults(0, 0, 0)
	if _, err := d.Send(context.Background(), msg("u1")); !errors.Is(err, dispatch.ErrSendUncertain) {
		t.Fatalf("retry: got %v, want ErrSendUncertain again", err)
	}
	if n := s.Sends("u1"); n != 1 {
		t.Fatalf("sent %d times, want 1", n)
	}
}

func TestAtLeastOnceResends(t *testing.T) {
	s, snd := newSim(t, "twilio", sim.Options{Timeout: 1, Hang: 5 * time.Second}, false)
	d := dispatch.New(newAttempts(), dispatch.Carrier{Sender: snd, AtLeastOnce: true}, nil, settings)
	if _, err := d.Send(context.Background(), msg("a1")); !errors.Is(err, carrier.ErrUncertain) || errors.Is(err, dispatch.ErrSendUncertain) {
		t.Fatalf("got %v, want a retryable uncertain error", err)
	}
	s.SetFaults(0, 0, 0)
	r, err := d.Send(context.Background(), msg("a1"))
	if err != nil || r.Attempt != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	if s.Sends("a1") != 2 {
		t.Fatalf("sent %d times, want 2 (at-least-once)", s.Sends("a1"))
	}
}

func TestPermanentErrorDoesNotTripBreaker(t *testing.T) {
	_, snd := newSim(t, "sim", sim.Options{}, true)
	d := dispatch.New(newAttempts(), dispatch.Carrier{Sender: snd}, nil, settings)
	for i := range 5 {
		m := msg("p" + string(rune('a'+i)))
		m.To = "+15005550004"
		_, err := d.Send(context.Background(), m)
		var ce *carrier.Error
		if !errors.As(err, &ce) || !ce.OptedOut {
			t.Fatalf("got %v, want opted out", err)
		}
	}
	if d.BreakerState("sim") != gobreaker.StateClosed {
		t.Fatal("refused messages must not open the breaker")
	}
}

package dispatch_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"smsflow/carrier"
	"smsflow/carrier/dispatch"
	"smsflow/carrier/sim"
	"smsflow/carrier/twilio"
	"smsflow/carrier/vonage"
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
	a.m[id] = append(a.m[id], store.DispatchAttempt{MessageID: id, Attempt: n, Carrier: c, State: store.AttemptPrepared})
	return n, nil
}

func (a *memAttempts) MarkSending(_ context.Context, id string, n int) error {
	return a.transition(id, n, store.AttemptPrepared, store.AttemptOutcome{State: store.AttemptSending})
}

func (a *memAttempts) AbandonPrepared(_ context.Context, id string, n int, reason string) error {
	return a.transition(id, n, store.AttemptPrepared, store.AttemptOutcome{State: store.AttemptAbandoned, ErrorMessage: reason})
}

func (a *memAttempts) FinishAttempt(_ context.Context, id string, n int, o store.AttemptOutcome) error {
	return a.transition(id, n, "", o)
}

func (a *memAttempts) transition(id string, n int, from string, o store.AttemptOutcome) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	at := &a.m[id][n-1]
	if from != "" && at.State != from {
		return store.ErrConflict
	}
	at.State, at.CarrierMessageID, at.CarrierStatus, at.ErrorCode, at.ErrorClass, at.PartIDs = o.State, o.CarrierMessageID, o.CarrierStatus, o.ErrorCode, o.ErrorClass, o.PartIDs
	return nil
}

// states lists the states of a message's attempts, oldest first.
func (a *memAttempts) states(id string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, at := range a.m[id] {
		out = append(out, at.State)
	}
	return out
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
	r1, err := d.Send(context.Background(), msg("m1"), nil)
	if err != nil || r1.Recovered || r1.Attempt != 1 {
		t.Fatalf("%+v %v", r1, err)
	}
	r2, err := d.Send(context.Background(), msg("m1"), nil)
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
		// A 5xx maybe left: uncertain, and the simulator's lookup does not see it yet.
		if _, err := d.Send(context.Background(), msg("b"+string(rune('a'+i))), nil); !errors.Is(err, carrier.ErrUncertain) {
			t.Fatalf("send %d: %v, want uncertain", i, err)
		}
	}
	if d.BreakerState("sim") != gobreaker.StateOpen {
		t.Fatalf("breaker %v after 3 failures, want open", d.BreakerState("sim"))
	}
	before := s.Stats().SendRequests
	if _, err := d.Send(context.Background(), msg("b-open"), nil); !errors.Is(err, dispatch.ErrBreakerOpen) {
		t.Fatalf("with the breaker open: %v, want ErrBreakerOpen", err)
	}
	if s.Stats().SendRequests != before {
		t.Fatal("an open breaker must not call the carrier")
	}
	s.SetFaults(0, 0, 0)
	time.Sleep(settings.BreakerOpenTimeout + 20*time.Millisecond) // let the breaker go half-open
	if _, err := d.Send(context.Background(), msg("b-after"), nil); err != nil {
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
		_, _ = d.Send(context.Background(), msg("f"+string(rune('a'+i))), nil)
	}
	r, err := d.Send(context.Background(), msg("f-over"), nil)
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
	r, err := d.Send(context.Background(), msg("x1"), nil)
	if err != nil || !r.Recovered || r.CarrierMessageID == "" {
		t.Fatalf("%+v %v, want the message found by lookup", r, err)
	}
	s.SetFaults(0, 0, 0)
	for range 3 { // Temporal retries of the activity
		if r2, err := d.Send(context.Background(), msg("x1"), nil); err != nil || r2.CarrierMessageID != r.CarrierMessageID {
			t.Fatalf("retry: %+v %v", r2, err)
		}
	}
	if n := s.Sends("x1"); n != 1 {
		t.Fatalf("the simulator received message x1 %d times, want exactly 1", n)
	}
}

// A worker died mid-call: the attempt is "sending" without outcome. The next Send asks.
func TestCrashedAttemptIsResolvedByLookup(t *testing.T) {
	s, snd := newSim(t, "sim", sim.Options{}, true)
	att := newAttempts()
	d := dispatch.New(att, dispatch.Carrier{Sender: snd}, nil, settings)
	if _, err := snd.Send(context.Background(), msg("c1")); err != nil { // the call the dead worker made
		t.Fatal(err)
	}
	_, _ = att.StartAttempt(context.Background(), "c1", "sim")
	_ = att.MarkSending(context.Background(), "c1", 1)
	r, err := d.Send(context.Background(), msg("c1"), nil)
	if err != nil || !r.Recovered || r.Attempt != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	if s.Sends("c1") != 1 {
		t.Fatalf("sent %d times", s.Sends("c1"))
	}
	// Sending but never reached the carrier: the lookup finds nothing, so it is sent now.
	_, _ = att.StartAttempt(context.Background(), "c2", "sim")
	_ = att.MarkSending(context.Background(), "c2", 1)
	if r, err := d.Send(context.Background(), msg("c2"), nil); err != nil || r.Recovered || r.Attempt != 2 {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestSendUncertainWithoutLookup(t *testing.T) {
	s, snd := newSim(t, "twilio", sim.Options{Timeout: 1, Hang: 5 * time.Second}, false)
	d := dispatch.New(newAttempts(), dispatch.Carrier{Sender: snd}, nil, settings)
	if _, err := d.Send(context.Background(), msg("u1"), nil); !errors.Is(err, dispatch.ErrSendUncertain) {
		t.Fatalf("got %v, want ErrSendUncertain", err)
	}
	s.SetFaults(0, 0, 0)
	if _, err := d.Send(context.Background(), msg("u1"), nil); !errors.Is(err, dispatch.ErrSendUncertain) {
		t.Fatalf("retry: got %v, want ErrSendUncertain again", err)
	}
	if n := s.Sends("u1"); n != 1 {
		t.Fatalf("sent %d times, want 1", n)
	}
}

func TestAtLeastOnceResends(t *testing.T) {
	s, snd := newSim(t, "twilio", sim.Options{Timeout: 1, Hang: 5 * time.Second}, false)
	d := dispatch.New(newAttempts(), dispatch.Carrier{Sender: snd, AtLeastOnce: true}, nil, settings)
	if _, err := d.Send(context.Background(), msg("a1"), nil); !errors.Is(err, carrier.ErrUncertain) || errors.Is(err, dispatch.ErrSendUncertain) {
		t.Fatalf("got %v, want a retryable uncertain error", err)
	}
	s.SetFaults(0, 0, 0)
	r, err := d.Send(context.Background(), msg("a1"), nil)
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
		_, err := d.Send(context.Background(), m, nil)
		var ce *carrier.Error
		if !errors.As(err, &ce) || !ce.OptedOut {
			t.Fatalf("got %v, want opted out", err)
		}
	}
	if d.BreakerState("sim") != gobreaker.StateClosed {
		t.Fatal("refused messages must not open the breaker")
	}
}

// A worker died after recording its attempt and before the request left: the attempt is
// prepared. The next Send gives it up and sends once; nothing is uncertain.
func TestPreparedAttemptIsSentAgain(t *testing.T) {
	s, snd := newSim(t, "twilio", sim.Options{}, false) // no lookup: only the record can tell
	att := newAttempts()
	d := dispatch.New(att, dispatch.Carrier{Sender: snd}, nil, settings)
	_, _ = att.StartAttempt(context.Background(), "p1", "twilio")
	r, err := d.Send(context.Background(), msg("p1"), nil)
	if err != nil || r.Recovered || r.Attempt != 2 {
		t.Fatalf("%+v %v, want sent by a second attempt", r, err)
	}
	if got := att.states("p1"); !slices.Equal(got, []string{store.AttemptAbandoned, store.AttemptAccepted}) {
		t.Fatalf("attempt states %v", got)
	}
	if n := s.Sends("p1"); n != 1 {
		t.Fatalf("the carrier received %d requests, want 1", n)
	}
}

// A worker died with its request leaving (sending) at a carrier that cannot be asked: uncertain,
// and never sent again.
func TestSendingAttemptIsUncertain(t *testing.T) {
	s, snd := newSim(t, "twilio", sim.Options{}, false)
	att := newAttempts()
	d := dispatch.New(att, dispatch.Carrier{Sender: snd}, nil, settings)
	_, _ = att.StartAttempt(context.Background(), "s1", "twilio")
	_ = att.MarkSending(context.Background(), "s1", 1)
	for range 2 {
		if _, err := d.Send(context.Background(), msg("s1"), nil); !errors.Is(err, dispatch.ErrSendUncertain) {
			t.Fatalf("got %v, want ErrSendUncertain", err)
		}
	}
	if n := s.Sends("s1"); n != 0 || len(att.states("s1")) != 1 {
		t.Fatalf("the carrier received %d requests and %d attempts exist; want 0 and 1", n, len(att.states("s1")))
	}
}

// A 5xx from Twilio comes after the request left: uncertain, not resent by the retries.
func TestTwilio5xxIsNotResent(t *testing.T) {
	s, snd := newSim(t, "twilio", sim.Options{Error5xx: 1}, false)
	att := newAttempts()
	d := dispatch.New(att, dispatch.Carrier{Sender: snd}, nil, settings)
	for range 3 {
		if _, err := d.Send(context.Background(), msg("t5"), nil); !errors.Is(err, dispatch.ErrSendUncertain) {
			t.Fatalf("got %v, want ErrSendUncertain", err)
		}
		s.SetFaults(0, 0, 0)
	}
	if n := s.Sends("t5"); n != 1 {
		t.Fatalf("the carrier received %d requests, want 1", n)
	}
	if got := att.states("t5"); !slices.Equal(got, []string{store.AttemptUncertain}) {
		t.Fatalf("attempt states %v", got)
	}
}

// Connecting takes longer than the send timeout: the request never left, so the failure is
// temporary (not uncertain, even at a carrier that cannot be asked) and the retry sends once.
func TestTimeoutBeforeTheRequestLeftIsNotUncertain(t *testing.T) {
	s := sim.New(sim.Options{})
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); s.Close() })
	var slowConnect atomic.Bool
	slowConnect.Store(true)
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if slowConnect.Load() {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	snd := twilio.New(twilio.Options{Name: "twilio", BaseURL: srv.URL, AccountSID: "AC", AuthToken: "t", HTTPClient: &http.Client{Transport: transport}})
	att := newAttempts()
	d := dispatch.New(att, dispatch.Carrier{Sender: snd}, nil, settings)
	_, err := d.Send(context.Background(), msg("n1"), nil)
	if !errors.Is(err, carrier.ErrTemporary) || errors.Is(err, dispatch.ErrSendUncertain) {
		t.Fatalf("got %v, want a temporary failure", err)
	}
	slowConnect.Store(false)
	if r, err := d.Send(context.Background(), msg("n1"), nil); err != nil || r.Attempt != 2 {
		t.Fatalf("retry: %+v %v", r, err)
	}
	if got := att.states("n1"); !slices.Equal(got, []string{store.AttemptFailed, store.AttemptAccepted}) {
		t.Fatalf("attempt states %v", got)
	}
	if n := s.Sends("n1"); n != 1 {
		t.Fatalf("the carrier received %d requests, want 1", n)
	}
}

// The caller's context ends while the carrier is answering (a worker stopping, an activity
// deadline): the request is not cut mid-flight; its answer is recorded.
func TestCallerCancelDoesNotCutTheCall(t *testing.T) {
	s, snd := newSim(t, "twilio", sim.Options{Slow: 1, SlowDelay: 150 * time.Millisecond}, false)
	att := newAttempts()
	d := dispatch.New(att, dispatch.Carrier{Sender: snd}, nil, settings)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	r, err := d.Send(ctx, msg("g1"), nil)
	if err != nil || r.CarrierMessageID == "" {
		t.Fatalf("%+v %v, want accepted", r, err)
	}
	if got := att.states("g1"); !slices.Equal(got, []string{store.AttemptAccepted}) || s.Sends("g1") != 1 {
		t.Fatalf("attempt states %v, %d requests", got, s.Sends("g1"))
	}
	// A context already over starts no call.
	if _, err := d.Send(ctx, msg("g2"), nil); !errors.Is(err, context.Canceled) || s.Sends("g2") != 0 {
		t.Fatalf("with the context over: %v, %d requests", err, s.Sends("g2"))
	}
}

// The gate is asked right before the call: held, nothing is sent or recorded; the gate asked
// again once open lets it go.
func TestGateHoldsBeforeTheCall(t *testing.T) {
	s, snd := newSim(t, "sim", sim.Options{}, true)
	att := newAttempts()
	d := dispatch.New(att, dispatch.Carrier{Sender: snd}, nil, settings)
	until := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)
	open := false
	gate := func(time.Time) (dispatch.Hold, error) {
		if open {
			return dispatch.Hold{}, nil
		}
		return dispatch.Hold{Until: until, Reason: "window closed"}, nil
	}
	_, err := d.Send(context.Background(), msg("w1"), gate)
	var held *dispatch.HeldError
	if !errors.As(err, &held) || !held.Until.Equal(until) || held.Reason != "window closed" {
		t.Fatalf("got %v, want held until %s", err, until)
	}
	if s.Stats().SendRequests != 0 || len(att.states("w1")) != 0 {
		t.Fatalf("held: %d requests, attempts %v; want none", s.Stats().SendRequests, att.states("w1"))
	}
	open = true
	if r, err := d.Send(context.Background(), msg("w1"), gate); err != nil || r.Attempt != 1 || s.Sends("w1") != 1 {
		t.Fatalf("open: %+v %v, %d requests", r, err, s.Sends("w1"))
	}
	// An accepted message is answered from the record whatever the gate says.
	open = false
	if r, err := d.Send(context.Background(), msg("w1"), gate); err != nil || !r.Recovered {
		t.Fatalf("recorded: %+v %v", r, err)
	}
}

// Vonage takes two parts of three and refuses the third: SEND_UNCERTAIN, the attempt records
// which parts were taken, and a retry sends nothing (even for an at-least-once carrier).
func TestPartialMultipartIsNotResent(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(`{"message-count":"3","messages":[{"message-id":"P1","status":"0"},{"message-id":"P2","status":"0"},` +
			`{"status":"5","error-text":"Internal Error"}]}`))
	}))
	t.Cleanup(srv.Close)
	snd := vonage.New(vonage.Options{BaseURL: srv.URL, APIKey: "k", APISecret: "s"})
	att := newAttempts()
	d := dispatch.New(att, dispatch.Carrier{Sender: snd, AtLeastOnce: true}, nil, settings)
	for range 2 {
		_, err := d.Send(context.Background(), msg("v1"), nil)
		var ce *carrier.Error
		if !errors.Is(err, dispatch.ErrSendUncertain) || !errors.As(err, &ce) || ce.Class != carrier.Partial ||
			!slices.Equal(ce.PartIDs, []string{"P1", "P2", ""}) {
			t.Fatalf("got %v, want a partial ErrSendUncertain naming parts P1, P2", err)
		}
	}
	if requests.Load() != 1 {
		t.Fatalf("Vonage received %d requests, want 1", requests.Load())
	}
	atts, _ := att.DispatchAttempts(context.Background(), "v1")
	if len(atts) != 1 || atts[0].State != store.AttemptPartial || atts[0].CarrierMessageID != "P1" || !slices.Equal(atts[0].PartIDs, []string{"P1", "P2", ""}) {
		t.Fatalf("attempts %+v", atts)
	}
}

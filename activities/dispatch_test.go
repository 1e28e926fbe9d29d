package activities_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"smsflow/activities"
	"smsflow/carrier/sim"
	"smsflow/outcome"
	"smsflow/store"
)

func dispatchInput(id, to string) activities.DispatchInput {
	return activities.DispatchInput{MessageID: id, PortalID: portal, From: "ACME", To: to, Text: "Bonjour", Segments: 1, Encoding: "GSM7"}
}

// An accepted send returns the carrier's message id; a retried Dispatch returns the recorded
// acceptance without sending again.
func TestDispatchAccepted(t *testing.T) {
	s := newStack(t, stackOptions{})
	id := newID()
	res, err := s.acts.Dispatch(s.ctx, dispatchInput(id, "+33612345678"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Carrier != "sim" || !strings.HasPrefix(res.CarrierMessageID, "SM") || res.ErrorCode != "" || res.Uncertain {
		t.Fatalf("result = %+v, want accepted by sim with an SM… id", res)
	}
	again, err := s.acts.Dispatch(s.ctx, dispatchInput(id, "+33612345678"))
	if err != nil || again.CarrierMessageID != res.CarrierMessageID {
		t.Fatalf("retried Dispatch = %+v, %v; want %s again", again, err, res.CarrierMessageID)
	}
	if n := s.sim.Sends(id); n != 1 {
		t.Errorf("the simulator received %d sends, want 1", n)
	}
}

// A carrier's refusal is a NOT_SENT outcome, not an error: the number's verdict travels with it.
func TestDispatchRefused(t *testing.T) {
	cases := []struct {
		name          string
		to            string // the simulator's magic numbers
		code          outcome.Code
		numberInvalid bool
		optedOut      bool
	}{
		{"invalid number", "+15005550001", outcome.NumberNotAssigned, true, false},
		{"opted out at the carrier", "+15005550004", outcome.OptedOut, false, true},
		{"region not enabled", "+15005550003", outcome.CarrierRejected, false, false},
	}
	s := newStack(t, stackOptions{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := s.acts.Dispatch(s.ctx, dispatchInput(newID(), c.to))
			if err != nil {
				t.Fatal(err)
			}
			if res.ErrorCode != c.code || res.NumberInvalid != c.numberInvalid || res.OptedOut != c.optedOut ||
				res.CarrierMessageID != "" || res.Carrier != "sim" || res.ErrorMessage == "" {
				t.Errorf("result = %+v, want %s (number invalid %v, opted out %v)", res, c.code, c.numberInvalid, c.optedOut)
			}
		})
	}
}

// A 5xx maybe left, but the simulator can be asked: not found, the activity fails with an error
// Temporal retries, and the retry (finding it still absent) sends it once.
func TestDispatchCarrier5xxIsRetried(t *testing.T) {
	s := newStack(t, stackOptions{Sim: sim.Options{Error5xx: 1}})
	id := newID()
	res, err := s.acts.Dispatch(s.ctx, dispatchInput(id, "+33612345678"))
	if !retryable(err) || res != (activities.DispatchResult{}) {
		t.Fatalf("Dispatch on a 503 = %+v, %v; want an error Temporal retries", res, err)
	}
	s.sim.SetFaults(0, 0, 0)
	res, err = s.acts.Dispatch(s.ctx, dispatchInput(id, "+33612345678"))
	if err != nil || res.CarrierMessageID == "" {
		t.Fatalf("retry = %+v, %v; want accepted", res, err)
	}
	if s.sim.Accepted() != 1 {
		t.Errorf("the simulator took %d messages, want 1", s.sim.Accepted())
	}
}

// With the breaker open the activity fails fast, with its own retryable error type, and the
// carrier is not called.
func TestDispatchBreakerOpen(t *testing.T) {
	s := newStack(t, stackOptions{Sim: sim.Options{Error5xx: 1}, Env: map[string]string{"CARRIER_BREAKER_FAILURES": "1"}})
	id := newID()
	if _, err := s.acts.Dispatch(s.ctx, dispatchInput(id, "+33612345678")); !retryable(err) {
		t.Fatalf("first Dispatch: %v, want a retryable error", err)
	}
	_, err := s.acts.Dispatch(s.ctx, dispatchInput(id, "+33612345678"))
	if !retryable(err) || errorType(err) != activities.ErrTypeCarrierBreakerOpen {
		t.Fatalf("Dispatch with the breaker open: %v (type %q), want a retryable %s", err, errorType(err), activities.ErrTypeCarrierBreakerOpen)
	}
	if n := s.sim.Sends(id); n != 1 {
		t.Errorf("the simulator received %d sends, want 1 (none while the breaker is open)", n)
	}
}

// A timeout after the simulator took the message is an uncertain send; the simulator can be
// asked by reference, so the send is recovered as accepted and never sent twice (no
// SEND_UNCERTAIN with this carrier).
func TestDispatchTimeoutIsRecovered(t *testing.T) {
	s := newStack(t, stackOptions{Sim: sim.Options{Timeout: 1}, Env: map[string]string{"CARRIER_SEND_TIMEOUT": "200ms"}})
	id := newID()
	res, err := s.acts.Dispatch(s.ctx, dispatchInput(id, "+33612345678"))
	if err != nil || res.CarrierMessageID == "" || res.Uncertain || res.ErrorCode != "" {
		t.Fatalf("Dispatch after a timeout = %+v, %v; want the send recovered as accepted", res, err)
	}
	if n := s.sim.Sends(id); n != 1 {
		t.Errorf("the simulator received %d sends, want 1", n)
	}
}

// frenchMarketing is a French marketing message, with what the window is checked with.
func frenchMarketing(id string) activities.DispatchInput {
	in := dispatchInput(id, "+33612345678")
	in.Channel, in.Country, in.Timezones, in.MessageType = "sms", "FR", []string{"Europe/Paris"}, "marketing"
	return in
}

// shiftTo places the activities' compliance clock at the Paris wall time at.
func shiftTo(s *stack, at time.Time) time.Duration {
	s.acts.Config.ComplianceClock.Shift = at.Sub(time.Now())
	return s.acts.Config.ComplianceClock.Shift
}

var paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return l
}()

// The window is checked right before the carrier call: a French marketing message on a Sunday
// evening comes back with DeferUntil (Monday 08:00), nothing sent and no attempt recorded. A
// transactional message goes, and so does one whose input carries no Country (a workflow from
// before the check: no window check, as before).
func TestDispatchOutsideTheWindowIsDeferred(t *testing.T) {
	s := newStack(t, stackOptions{})
	shift := shiftTo(s, time.Date(2026, 3, 22, 20, 0, 0, 0, paris))
	id := newID()
	res, err := s.acts.Dispatch(s.ctx, frenchMarketing(id))
	if err != nil {
		t.Fatal(err)
	}
	monday8 := time.Date(2026, 3, 23, 8, 0, 0, 0, paris)
	if res.DeferUntil == nil || !res.DeferUntil.Add(shift).Equal(monday8) || !strings.Contains(res.DeferReason, "France") ||
		res.Uncertain || res.ErrorCode != "" || res.CarrierMessageID != "" {
		t.Fatalf("result = %+v, want deferred until Monday 08:00 Paris with the window as reason", res)
	}
	atts, err := s.db.DispatchAttempts(s.ctx, id)
	if err != nil || len(atts) != 0 || s.sim.Stats().SendRequests != 0 {
		t.Fatalf("attempts %+v (%v), %d send requests; want none", atts, err, s.sim.Stats().SendRequests)
	}

	transactional := frenchMarketing(newID())
	transactional.MessageType = "transactional"
	legacy := frenchMarketing(newID())
	legacy.Country, legacy.Timezones, legacy.MessageType, legacy.Channel = "", nil, "", ""
	for _, in := range []activities.DispatchInput{transactional, legacy} {
		if res, err := s.acts.Dispatch(s.ctx, in); err != nil || res.DeferUntil != nil || res.CarrierMessageID == "" {
			t.Errorf("%s: %+v, %v; want sent", in.MessageType, res, err)
		}
	}
}

// Every retry of the activity checks the window again: a send that failed at 21:59 in Paris is
// not retried at 22:01; the retry comes back deferred to the next opening, having sent nothing.
func TestDispatchRetryStopsAtTheWindowClose(t *testing.T) {
	s := newStack(t, stackOptions{Sim: sim.Options{Error5xx: 1}})
	shiftTo(s, time.Date(2026, 3, 21, 21, 59, 0, 0, paris)) // a Saturday
	id := newID()
	if _, err := s.acts.Dispatch(s.ctx, frenchMarketing(id)); !retryable(err) {
		t.Fatalf("first try: %v, want a retryable error", err)
	}
	s.sim.SetFaults(0, 0, 0)
	shift := shiftTo(s, time.Date(2026, 3, 21, 22, 1, 0, 0, paris))
	res, err := s.acts.Dispatch(s.ctx, frenchMarketing(id))
	if err != nil || res.DeferUntil == nil || !res.DeferUntil.Add(shift).Equal(time.Date(2026, 3, 23, 8, 0, 0, 0, paris)) {
		t.Fatalf("retry after the close = %+v, %v; want deferred until Monday 08:00", res, err)
	}
	if n := s.sim.Sends(id); n != 1 {
		t.Fatalf("the simulator received %d requests, want only the first try's", n)
	}
	atts, _ := s.db.DispatchAttempts(s.ctx, id)
	for _, a := range atts {
		if a.State == store.AttemptPrepared || a.MaybeLeft() {
			t.Fatalf("attempt left open after the defer: %+v", a)
		}
	}
	// The window opens: the next dispatch sends it.
	shiftTo(s, time.Date(2026, 3, 23, 8, 0, 1, 0, paris))
	if res, err := s.acts.Dispatch(s.ctx, frenchMarketing(id)); err != nil || res.CarrierMessageID == "" || s.sim.Sends(id) != 2 {
		t.Fatalf("at the opening: %+v, %v, %d requests", res, err, s.sim.Sends(id))
	}
}

// A stopping worker (a deploy) starts no carrier call: the activity fails with a retryable
// WORKER_STOPPING error, and the retry runs on a worker that stays.
func TestDispatchOnAStoppingWorkerStartsNoCall(t *testing.T) {
	s := newStack(t, stackOptions{})
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(s.acts)
	stop := make(chan struct{})
	close(stop)
	env.SetWorkerStopChannel(stop)
	_, err := env.ExecuteActivity(s.acts.Dispatch, dispatchInput(newID(), "+33612345678"))
	if !retryable(err) || errorType(err) != activities.ErrTypeWorkerStopping {
		t.Fatalf("got %v (type %q), want a retryable %s", err, errorType(err), activities.ErrTypeWorkerStopping)
	}
	if n := s.sim.Stats().SendRequests; n != 0 {
		t.Fatalf("the simulator received %d requests, want none", n)
	}
}

// Vonage takes two parts of three: SEND_UNCERTAIN (flagged sent) with the first part's id, the
// attempt records which parts were taken, and a retried activity sends nothing.
func TestDispatchVonagePartial(t *testing.T) {
	var requests atomic.Int32
	vonage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(`{"message-count":"3","messages":[{"message-id":"P1","status":"0"},{"message-id":"P2","status":"0"},` +
			`{"status":"1","error-text":"Throughput Rate Exceeded"}]}`))
	}))
	t.Cleanup(vonage.Close)
	s := newStack(t, stackOptions{Env: map[string]string{"CARRIER_PRIMARY": "vonage", "VONAGE_BASE_URL": vonage.URL,
		"VONAGE_API_KEY": "k", "VONAGE_API_SECRET": "s"}})
	id := newID()
	for range 2 {
		res, err := s.acts.Dispatch(s.ctx, dispatchInput(id, "+447700900000"))
		if err != nil || !res.Uncertain || res.ErrorCode != outcome.SendUncertain || res.Carrier != "vonage" ||
			res.CarrierMessageID != "P1" || !strings.Contains(res.ErrorMessage, "2 of 3 parts") {
			t.Fatalf("result = %+v, %v; want SEND_UNCERTAIN naming 2 of 3 parts, first part P1", res, err)
		}
	}
	if requests.Load() != 1 {
		t.Fatalf("Vonage received %d requests, want 1", requests.Load())
	}
	atts, err := s.db.DispatchAttempts(s.ctx, id)
	if err != nil || len(atts) != 1 || atts[0].State != store.AttemptPartial || !slices.Equal(atts[0].PartIDs, []string{"P1", "P2", ""}) {
		t.Fatalf("attempts %+v %v", atts, err)
	}
}

// With the pre-dispatch check and the SENT event (the lifecycle from its compact version on), the
// dispatch refuses a suppressed number before any carrier call, and publishes SENT with the
// carrier's answer once the carrier took the message; a retry returns the recorded answer
// without checking again (the number suppressed since changes nothing: the message left).
func TestDispatchChecksThenPublishesSent(t *testing.T) {
	s := newStack(t, stackOptions{})
	newContact(s)
	checked := func(id, to string) activities.DispatchInput {
		in := dispatchInput(id, to)
		in.Channel, in.Country, in.MessageType = "sms", "FR", "transactional"
		in.Check = &activities.DispatchCheckInput{MessageID: id, PortalID: portal, Channel: "sms", Phone: to, Country: "FR",
			MessageType: "transactional", ObjectType: "contact", ObjectID: "701", Sender: "ACME"}
		in.Sent = statusEvent(id, outcome.SMSSent)
		in.Sent.Carrier, in.Sent.CarrierMessageID = "", ""
		return in
	}

	suppressed := "+33612345601"
	if err := s.db.Suppress(s.ctx, portal, "sms", suppressed, "stop_reply", ""); err != nil {
		t.Fatal(err)
	}
	id := newID()
	res, err := s.acts.Dispatch(s.ctx, checked(id, suppressed))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Refused || res.ErrorCode != outcome.OptedOut || res.Published || s.sim.Sends(id) != 0 {
		t.Fatalf("dispatch to a suppressed number = %+v after %d sends; want refused OPTED_OUT, nothing sent or published", res, s.sim.Sends(id))
	}
	if _, err := s.db.GetMessage(s.ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused dispatch wrote the message log: %v", err)
	}

	id = newID()
	to := "+33612345602"
	res, err = s.acts.Dispatch(s.ctx, checked(id, to))
	if err != nil {
		t.Fatal(err)
	}
	if res.Refused || !res.Published || res.Carrier != "sim" || res.CarrierMessageID == "" {
		t.Fatalf("dispatch = %+v, want taken by sim and published", res)
	}
	m, err := s.db.GetMessage(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != string(outcome.SMSSent) || m.CarrierMessageID != res.CarrierMessageID {
		t.Fatalf("message log = status %s, carrier id %v; want SENT with %s", m.Status, m.CarrierMessageID, res.CarrierMessageID)
	}
	if err := s.db.Suppress(s.ctx, portal, "sms", to, "stop_reply", ""); err != nil {
		t.Fatal(err)
	}
	again, err := s.acts.Dispatch(s.ctx, checked(id, to))
	if err != nil || again.Refused || again.CarrierMessageID != res.CarrierMessageID || s.sim.Sends(id) != 1 {
		t.Fatalf("retried dispatch = %+v, %v after %d sends; want the recorded acceptance, sent once", again, err, s.sim.Sends(id))
	}
}

package activities_test

import (
	"strings"
	"testing"

	"smsflow/activities"
	"smsflow/carrier/sim"
	"smsflow/outcome"
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

// A 5xx means the carrier did not take the message: an error Temporal retries, and the retry
// sends it once.
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

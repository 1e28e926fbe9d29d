package twilio_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"smsflow/carrier"
	"smsflow/carrier/sim"
	"smsflow/carrier/twilio"
	"smsflow/outcome"
)

// The simulator speaks Twilio's wire format: the adapter is tested against it.
func newPair(t *testing.T, o sim.Options, lookup bool) (*sim.Sim, *twilio.Client) {
	t.Helper()
	s := sim.New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); s.Close() })
	c := twilio.New(twilio.Options{BaseURL: srv.URL, AccountSID: "ACtest", AuthToken: "token",
		HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}, ReferenceLookup: lookup})
	return s, c
}

func msg(id, to string) carrier.Message {
	return carrier.Message{ID: id, From: "+15005550006", To: to, Text: "Hello"}
}

func TestSendSuccess(t *testing.T) {
	s, c := newPair(t, sim.Options{Seed: 1}, false)
	r, err := c.Send(context.Background(), msg("m-1", "+33612345678"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Carrier != "twilio" || len(r.CarrierMessageID) != 34 || r.CarrierMessageID[:2] != "SM" || r.Status != outcome.ReportQueued || r.Segments != 1 {
		t.Fatalf("receipt %+v", r)
	}
	// The same message id again: the simulator dedupes on the idempotency key.
	r2, err := c.Send(context.Background(), msg("m-1", "+33612345678"))
	if err != nil || r2.CarrierMessageID != r.CarrierMessageID {
		t.Fatalf("second send: %+v, %v; want the same SID", r2, err)
	}
	if st := s.Stats(); st.Accepted != 1 || st.Duplicates != 1 || s.Sends("m-1") != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSendPermanentErrors(t *testing.T) {
	_, c := newPair(t, sim.Options{}, false)
	for _, tc := range []struct {
		to                      string
		code                    string
		numberInvalid, optedOut bool
	}{
		{"+15005550001", "21211", true, false},
		{"+15005550004", "21610", false, true},
		{"+15005550009", "21614", true, false},
		{"+15005550003", "21408", false, false},
	} {
		_, err := c.Send(context.Background(), msg("m-"+tc.to, tc.to))
		var ce *carrier.Error
		if !errors.As(err, &ce) || ce.Class != carrier.Permanent || ce.Code != tc.code || ce.NumberInvalid != tc.numberInvalid || ce.OptedOut != tc.optedOut {
			t.Errorf("to %s: got %#v", tc.to, err)
		}
	}
}

// A 5xx comes after the whole request left: Twilio may have created the message, so it is
// uncertain (never resent blindly), even though the simulator's 5xx takes nothing.
func TestSend5xxIsUncertain(t *testing.T) {
	s, c := newPair(t, sim.Options{Error5xx: 1}, false)
	_, err := c.Send(context.Background(), msg("m-5xx", "+33612345678"))
	if !errors.Is(err, carrier.ErrUncertain) {
		t.Fatalf("got %v, want uncertain", err)
	}
	if s.Accepted() != 0 || s.Sends("m-5xx") != 1 {
		t.Fatalf("simulator took %d messages from %d requests, want 0 from 1", s.Accepted(), s.Sends("m-5xx"))
	}
}

// The departure hook runs before the body leaves: refusing it sends nothing (the simulator
// counts no request) and the failure is temporary, not uncertain.
func TestRefusedDepartureSendsNothing(t *testing.T) {
	s, c := newPair(t, sim.Options{}, false)
	calls := 0
	ctx := carrier.WithDeparture(context.Background(), func() error { calls++; return errors.New("bookkeeping down") })
	_, err := c.Send(ctx, msg("m-held", "+33612345678"))
	if !errors.Is(err, carrier.ErrTemporary) || !errors.Is(err, carrier.ErrDepartureRefused) {
		t.Fatalf("got %v, want a temporary refused departure", err)
	}
	if calls != 1 || s.Stats().SendRequests != 0 {
		t.Fatalf("hook called %d times, simulator saw %d send requests; want 1 and 0", calls, s.Stats().SendRequests)
	}
	ctx = carrier.WithDeparture(context.Background(), func() error { calls++; return nil })
	if _, err := c.Send(ctx, msg("m-go", "+33612345678")); err != nil || calls != 2 || s.Sends("m-go") != 1 {
		t.Fatalf("accepted departure: %v, hook calls %d, sends %d", err, calls, s.Sends("m-go"))
	}
}

func TestSendTimeoutIsUncertainAndLookupFindsIt(t *testing.T) {
	s, c := newPair(t, sim.Options{Timeout: 1, Hang: 5 * time.Second}, true)
	_, err := c.Send(context.Background(), msg("m-timeout", "+33612345678"))
	if !errors.Is(err, carrier.ErrUncertain) {
		t.Fatalf("got %v, want uncertain", err)
	}
	if s.Accepted() != 1 {
		t.Fatal("the simulator should have taken the message before timing out")
	}
	r, found, err := c.Lookup(context.Background(), "m-timeout")
	if err != nil || !found || r.CarrierMessageID == "" {
		t.Fatalf("lookup: %+v %v %v", r, found, err)
	}
	if _, found, err := c.Lookup(context.Background(), "never-sent"); err != nil || found {
		t.Fatalf("lookup of an unknown reference: %v %v", found, err)
	}
}

func TestLookupUnsupportedAgainstTwilio(t *testing.T) {
	_, c := newPair(t, sim.Options{}, false)
	if _, _, err := c.Lookup(context.Background(), "x"); !errors.Is(err, carrier.ErrLookupUnsupported) {
		t.Fatalf("got %v", err)
	}
}

func TestConnectionRefusedIsTemporary(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	c := twilio.New(twilio.Options{BaseURL: base, AccountSID: "AC", AuthToken: "t"})
	if _, err := c.Send(context.Background(), msg("m", "+33612345678")); !errors.Is(err, carrier.ErrTemporary) {
		t.Fatalf("got %v, want temporary (nothing was sent)", err)
	}
}

// The example of Twilio's webhook security documentation.
func TestSignatureKnownVector(t *testing.T) {
	params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"}}
	const u, want = "https://mycompany.com/myapp.php?foo=1&bar=2", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
	if got := twilio.Signature("12345", u, params); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if !twilio.ValidSignature("12345", want, u, params) {
		t.Fatal("valid signature refused")
	}
	params.Set("Digits", "9999")
	if twilio.ValidSignature("12345", want, u, params) || twilio.ValidSignature("12345", "", u, params) {
		t.Fatal("forged or missing signature accepted")
	}
}

func TestParseStatus(t *testing.T) {
	form := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30005"}}
	r, ok := twilio.ParseStatus(form, url.Values{"mid": {"abc"}}, time.Now())
	if !ok || r.Status != outcome.ReportUndelivered || !r.Permanent || !r.NumberInvalid || r.MessageID != "abc" || r.EventID != "SM1:undelivered:30005" {
		t.Fatalf("%+v", r)
	}
	if _, ok := twilio.ParseStatus(url.Values{"MessageSid": {"SM1"}}, nil, time.Now()); ok {
		t.Fatal("a report without status accepted")
	}
}

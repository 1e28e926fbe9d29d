package hubspot_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"smsflow/hubspot"
	"smsflow/hubspot/hubspottest"
)

// HubSpot's 429s, 5xx and dropped connections during the code exchange are tried again; only a
// refused code is a refusal.
func TestExchangeRetriesHubSpotFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault hubspottest.Fault
		tries int // token calls the exchange makes
	}{
		{"429 with Retry-After", hubspottest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 2}, 3},
		{"503", hubspottest.Fault{Status: http.StatusServiceUnavailable, Times: 3}, 4},
		{"502", hubspottest.Fault{Status: http.StatusBadGateway, Times: 1}, 2},
		{"connection dropped", hubspottest.Fault{Hangup: true, Times: 2}, 3},
		{"too slow", hubspottest.Fault{Delay: 2 * time.Second, Times: 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := hubspottest.NewServer(t, "client-id", "client-secret")
			o := &hubspot.OAuth{ClientID: "client-id", ClientSecret: "client-secret", RedirectURI: "https://sms.example.com/oauth/callback",
				TokenURL: f.URL + "/oauth/v1/token", InfoURL: f.URL + "/oauth/v1/access-tokens",
				Backoff: 50 * time.Millisecond, AttemptTimeout: 500 * time.Millisecond}
			tc.fault.PathPrefix = "/oauth/v1/token"
			f.Inject(tc.fault)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			tok, err := o.Exchange(ctx, f.IssueCode(7))
			if err != nil || tok.HubID != 7 || tok.AccessToken == "" {
				t.Fatalf("Exchange = %+v, %v", tok, err)
			}
			if n := len(f.CallsTo("POST", "/oauth/v1/token")); n != tc.tries {
				t.Fatalf("%d token calls, want %d", n, tc.tries)
			}
			if tc.fault.RetryAfter != "" && time.Since(start) < 2*time.Second {
				t.Fatalf("Retry-After: 1 not honoured: done in %s", time.Since(start))
			}
		})
	}
}

func TestExchangeGivesUpWithinTheDeadlineAndNeverRetriesARefusal(t *testing.T) {
	f := hubspottest.NewServer(t, "client-id", "client-secret")
	o := &hubspot.OAuth{ClientID: "client-id", ClientSecret: "client-secret", RedirectURI: "https://sms.example.com/oauth/callback",
		TokenURL: f.URL + "/oauth/v1/token", InfoURL: f.URL + "/oauth/v1/access-tokens", Backoff: 100 * time.Millisecond}
	f.Inject(hubspottest.Fault{PathPrefix: "/oauth/v1/token", Status: http.StatusInternalServerError, Times: 1000})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := o.Exchange(ctx, f.IssueCode(7))
	var perm *hubspot.PermanentError
	if !errors.Is(err, hubspot.ErrUnavailable) || errors.As(err, &perm) {
		t.Fatalf("HubSpot failing throughout: %v, want ErrUnavailable and no PermanentError", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("gave up after %s, past the 3 s deadline", took)
	}
	if n := len(f.CallsTo("POST", "/oauth/v1/token")); n < 3 {
		t.Fatalf("%d tries in 3 s", n)
	}

	// An unknown code is refused at once.
	g := hubspottest.NewServer(t, "client-id", "client-secret")
	o.TokenURL = g.URL + "/oauth/v1/token"
	_, err = o.Exchange(context.Background(), "bogus")
	if !errors.As(err, &perm) || perm.API.Status != http.StatusBadRequest || errors.Is(err, hubspot.ErrUnavailable) {
		t.Fatalf("unknown code: %v, want a PermanentError 400", err)
	}
	if n := len(g.CallsTo("POST", "/oauth/v1/token")); n != 1 {
		t.Fatalf("a refused code was tried %d times", n)
	}
}

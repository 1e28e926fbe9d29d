package hubspottest

import (
	"net/http"
	"strings"
	"time"
)

// Fault is an injected answer for the next Times calls whose path starts with PathPrefix (all
// API paths when empty; OAuth paths only when PathPrefix starts with /oauth/): a 429 of Policy
// (TEN_SECONDLY_ROLLING, DAILY, or SECONDLY for the search style), a 5xx, a Delay before
// answering (a timeout for a client with a shorter one), or a Hangup (the connection is closed
// without an answer).
type Fault struct {
	PathPrefix string
	Status     int
	Policy     string
	RetryAfter string // Retry-After header value (seconds); empty: none, as HubSpot usually does
	Delay      time.Duration
	Hangup     bool
	Times      int
}

// Inject queues a fault.
func (f *Fake) Inject(fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fault.Times <= 0 {
		fault.Times = 1
	}
	f.faults = append(f.faults, &fault)
}

// ClearFaults drops every queued fault.
func (f *Fake) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// fault applies the first queued fault matching the request; it says whether it answered.
// API and developer-key calls get one after their credentials are checked; OAuth calls only one
// aimed at them (oauthFault).
func (f *Fake) fault(w http.ResponseWriter, r *http.Request) bool {
	return f.applyFault(w, r, func(ft *Fault) bool { return strings.HasPrefix(r.URL.Path, ft.PathPrefix) })
}

// oauthFault applies a fault whose PathPrefix names the OAuth path called.
func (f *Fake) oauthFault(w http.ResponseWriter, r *http.Request) bool {
	return f.applyFault(w, r, func(ft *Fault) bool {
		return strings.HasPrefix(ft.PathPrefix, "/oauth/") && strings.HasPrefix(r.URL.Path, ft.PathPrefix)
	})
}

func (f *Fake) applyFault(w http.ResponseWriter, r *http.Request, matches func(*Fault) bool) bool {
	f.mu.Lock()
	var hit *Fault
	for i, ft := range f.faults {
		if matches(ft) {
			ft.Times--
			if ft.Times <= 0 {
				f.faults = append(f.faults[:i], f.faults[i+1:]...)
			}
			hit = ft
			break
		}
	}
	f.mu.Unlock()
	if hit == nil {
		return false
	}
	if hit.Delay > 0 {
		select {
		case <-time.After(hit.Delay):
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case hit.Hangup:
		panic(http.ErrAbortHandler) // the server closes the connection without answering
	case hit.Status == http.StatusTooManyRequests:
		writeRateLimited(w, hit.Policy, hit.RetryAfter, 0, 0)
	case hit.Status != 0:
		writeError(w, hit.Status, "INTERNAL_ERROR", "internal error")
	default:
		return false // a pure delay: answer normally afterwards
	}
	return true
}

package hubspottest

import (
	"net/http"
	"strings"
	"time"
)

// Fault is an injected answer for the next Times calls whose path starts with PathPrefix (all
// paths when empty): a 429 of Policy (TEN_SECONDLY_ROLLING, DAILY, or SECONDLY for the search
// style), a 5xx, or a Delay before answering (a timeout for a client with a shorter one).
type Fault struct {
	PathPrefix string
	Status     int
	Policy     string
	RetryAfter string // Retry-After header value (seconds); empty: none, as HubSpot usually does
	Delay      time.Duration
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

// fault applies the first queued fault matching the request; it says whether it answered.
// OAuth calls never get one; API and developer-key calls do, after their credentials are checked.
func (f *Fake) fault(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	var hit *Fault
	for i, ft := range f.faults {
		if strings.HasPrefix(r.URL.Path, ft.PathPrefix) {
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
	case hit.Status == http.StatusTooManyRequests:
		writeRateLimited(w, hit.Policy, hit.RetryAfter, 0, 0)
	case hit.Status != 0:
		writeError(w, hit.Status, "INTERNAL_ERROR", "internal error")
	default:
		return false // a pure delay: answer normally afterwards
	}
	return true
}

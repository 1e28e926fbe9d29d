package hubspottest

import (
	"net/http"
	"strconv"
	"time"
)

// writeRateLimited writes HubSpot's 429 with the body and headers of the policy.
func writeRateLimited(w http.ResponseWriter, policy, retryAfter string, max, remaining int) {
	body := map[string]any{"status": "error", "errorType": "RATE_LIMIT", "correlationId": correlation()}
	switch policy {
	case "DAILY":
		body["message"], body["policyName"] = "You have reached your daily limit.", "DAILY"
		body["requestId"] = correlation()
	case "SECONDLY":
		body["message"] = "You have reached your secondly limit."
	default:
		body["message"], body["policyName"] = "You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING"
		body["groupName"] = "publicapi:oauth-api-calls-ten-secondly:" + randomHex(3)
	}
	if max == 0 {
		max = 110
	}
	w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	w.Header().Set("X-HubSpot-RateLimit-Max", strconv.Itoa(max))
	w.Header().Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, http.StatusTooManyRequests, body)
}

// limited applies the token bucket (RateLimit per rolling 10 s per portal): it answers 429 and
// says so when the portal's budget is spent, and otherwise counts the call and sets the rate-limit
// headers. Only API calls with a valid token reach it.
func (f *Fake) limited(w http.ResponseWriter, portal int64) bool {
	if f.RateLimit <= 0 {
		return false
	}
	f.mu.Lock()
	now := f.now()
	win := f.window[portal]
	i := 0
	for i < len(win) && now.Sub(win[i]) >= 10*time.Second {
		i++
	}
	win = win[i:]
	over := len(win) >= f.RateLimit
	if !over {
		win = append(win, now)
	}
	f.window[portal] = win
	remaining := f.RateLimit - len(win)
	f.mu.Unlock()
	if over {
		writeRateLimited(w, "TEN_SECONDLY_ROLLING", "", f.RateLimit, 0)
		return true
	}
	w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	w.Header().Set("X-HubSpot-RateLimit-Max", strconv.Itoa(f.RateLimit))
	w.Header().Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
	return false
}

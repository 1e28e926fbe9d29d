package hubspot

import (
	"errors"
	"fmt"
	"time"
)

// Rate-limit policies HubSpot names in a 429's policyName.
const (
	PolicyTenSecondly = "TEN_SECONDLY_ROLLING"
	PolicyDaily       = "DAILY"
	PolicySecondly    = "SECONDLY" // the search API's "secondly limit"; HubSpot sends no policyName for it
)

// ErrPortalDisconnected means the portal's refresh token was revoked or the app uninstalled: sends
// for it end NOT_SENT with PORTAL_DISCONNECTED and nothing is retried.
var ErrPortalDisconnected = errors.New("hubspot: portal disconnected")

// ErrNoToken means no token is stored for the portal (never installed).
var ErrNoToken = errors.New("hubspot: no token for portal")

// ErrNoPhone means neither the record nor its associated contacts or companies hold a phone number.
var ErrNoPhone = errors.New("hubspot: no phone number on the record or its associations")

// APIError is HubSpot's error body with the HTTP status it came with.
type APIError struct {
	Status        int
	Method, Path  string
	Category      string // e.g. CONFLICT, VALIDATION_ERROR, INVALID_AUTHENTICATION
	Message       string
	CorrelationID string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("hubspot: %s %s: %d", e.Method, e.Path, e.Status)
	if e.Category != "" {
		s += " " + e.Category
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// RateLimitedError is a 429. RetryAfter is how long to wait before the next call: Retry-After when
// HubSpot sent it, about ten seconds for TEN_SECONDLY_ROLLING, and until the portal's next day for
// DAILY.
type RateLimitedError struct {
	Policy     string
	RetryAfter time.Duration
	API        *APIError
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("hubspot: rate limited (%s), retry after %s: %v", e.Policy, e.RetryAfter, e.API)
}
func (e *RateLimitedError) Unwrap() error { return e.API }

// TemporaryError is a fault worth retrying: 5xx, a timeout, a broken connection.
type TemporaryError struct {
	Status int // 0 when no response came back
	Err    error
}

func (e *TemporaryError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("hubspot: temporary error %d: %v", e.Status, e.Err)
	}
	return fmt.Sprintf("hubspot: temporary error: %v", e.Err)
}
func (e *TemporaryError) Unwrap() error { return e.Err }

// PermanentError is a 4xx other than 401 and 429: retrying the same call cannot succeed.
type PermanentError struct{ API *APIError }

func (e *PermanentError) Error() string { return e.API.Error() }
func (e *PermanentError) Unwrap() error { return e.API }

// UnauthorizedError is a 401 that persisted after a forced token refresh.
type UnauthorizedError struct{ API *APIError }

func (e *UnauthorizedError) Error() string { return e.API.Error() }
func (e *UnauthorizedError) Unwrap() error { return e.API }

// StatusOf returns the HTTP status of a HubSpot error, or 0.
func StatusOf(err error) int {
	var api *APIError
	if errors.As(err, &api) {
		return api.Status
	}
	var tmp *TemporaryError
	if errors.As(err, &tmp) {
		return tmp.Status
	}
	return 0
}

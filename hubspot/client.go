// Package hubspot is smsflow's HubSpot side: the API client the activities use (callback
// completion, timeline events, properties, associations, notes), OAuth and token refresh, request
// signatures, and the helper that turns HubSpot errors into Temporal retry decisions.
//
// Every base path is configurable (Paths): HubSpot is moving to date-versioned paths and several
// of the ones we use are UNCONFIRMED, so a deployment can follow HubSpot without a new build.
package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"smsflow/metrics"
)

// Paths are the API path prefixes, relative to the base URL.
type Paths struct {
	Callbacks    string // POST {Callbacks}/{callbackId}/complete and {Callbacks}/complete
	Timeline     string // POST {Timeline}/events and {Timeline}/events/batch/create
	Objects      string // GET/PATCH {Objects}/{type}/{id}, POST {Objects}/notes
	Associations string // GET {Associations}/{type}/{id}/associations/{toType}
	Properties   string // POST {Properties}/{type} and {Properties}/{type}/groups
	AccountInfo  string // GET {AccountInfo}: the portal's time zone
}

// DefaultPaths are HubSpot's numbered paths: v4 for callbacks and associations, v3 for the rest.
var DefaultPaths = Paths{
	Callbacks:    "/automation/v4/actions/callbacks",
	Timeline:     "/crm/v3/timeline",
	Objects:      "/crm/v3/objects",
	Associations: "/crm/v4/objects",
	Properties:   "/crm/v3/properties",
	AccountInfo:  "/account-info/v3/details",
}

// TokenSource gives the access token of a portal. Invalidate says the token got a 401, so the next
// AccessToken refreshes it even if it looks unexpired.
type TokenSource interface {
	AccessToken(ctx context.Context, portalID int64) (string, error)
	Invalidate(portalID int64, token string)
}

// Client calls HubSpot's API for one app, on behalf of any installed portal.
type Client struct {
	BaseURL string
	Paths   Paths
	HTTP    *http.Client
	Tokens  TokenSource
	Log     *slog.Logger

	// MaxAttempts bounds the tries of one call (5xx, short rate-limit waits, one 401 refresh).
	MaxAttempts int
	// MaxInlineWait is the longest wait spent inside a call; a longer one (DAILY, a long
	// Retry-After) is returned as *RateLimitedError for Temporal to schedule.
	MaxInlineWait time.Duration
	// TenSecondlyWait is the wait after a TEN_SECONDLY_ROLLING 429 without Retry-After.
	TenSecondlyWait time.Duration
	// TimeZone gives the portal's time zone, for when its DAILY limit resets (nil or nil result: UTC).
	TimeZone func(ctx context.Context, portalID int64) *time.Location
	// CallbackDoneStatuses are the statuses of a completion that mean "already completed / expired",
	// counted as done. What HubSpot answers is UNCONFIRMED; the default is 404, 409 and 410.
	CallbackDoneStatuses []int
	// TimelineDuplicateStatuses mean an event with this id exists (UNCONFIRMED; default 409).
	TimelineDuplicateStatuses []int
	// BatchSize bounds the inputs of one batch call (HubSpot's limit is UNCONFIRMED; default 100).
	BatchSize int
	// NoteDedupProperty is the note property holding our event id so a retried fallback does not
	// add a second note; empty disables the check.
	NoteDedupProperty string
	// Budget is taken before every attempt of every API call (nil: none): the portal's share of
	// HubSpot's limits, so that normal operation never meets a 429.
	Budget Budget

	// Sleep and Now are the clock (tests inject them).
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// NewClient returns a client with DefaultPaths and a 20 s HTTP timeout.
func NewClient(baseURL string, tokens TokenSource) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Paths: DefaultPaths, Tokens: tokens,
		HTTP: &http.Client{Timeout: 20 * time.Second}}
}

func (c *Client) maxAttempts() int {
	if c.MaxAttempts > 0 {
		return c.MaxAttempts
	}
	return 4
}

func (c *Client) maxInlineWait() time.Duration {
	if c.MaxInlineWait > 0 {
		return c.MaxInlineWait
	}
	return 15 * time.Second
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return sleepContext(ctx, d)
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// errorBody is every HubSpot error body we have seen: status/message/correlationId, category for
// most, errorType/policyName for rate limits.
type errorBody struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	Category      string `json:"category"`
	CorrelationID string `json:"correlationId"`
	ErrorType     string `json:"errorType"`
	PolicyName    string `json:"policyName"`
}

// do sends one API call for a portal, retrying what is worth retrying within MaxAttempts, and
// decodes a 2xx JSON answer into out (when out is not nil).
func (c *Client) do(ctx context.Context, portalID int64, method, path string, query url.Values, in, out any) (int, error) {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return 0, fmt.Errorf("hubspot: encode %s %s: %w", method, path, err)
		}
	}
	u := c.BaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	refreshed := false
	var last error
	for attempt := 1; attempt <= c.maxAttempts(); attempt++ {
		token, err := c.Tokens.AccessToken(ctx, portalID)
		if err != nil {
			return 0, err
		}
		if c.Budget != nil {
			if err := c.Budget.Take(ctx, portalID, c.laneOf(method, path)); err != nil {
				return 0, err
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.HTTP.Do(req)
		countCall(method, resp)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			last = &TemporaryError{Err: fmt.Errorf("%s %s: %w", method, path, err)}
			if err := c.sleep(ctx, backoff(attempt)); err != nil {
				return 0, err
			}
			continue
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if rerr != nil && resp.StatusCode < 300 {
			last = &TemporaryError{Status: resp.StatusCode, Err: rerr}
			continue
		}
		status := resp.StatusCode
		if status >= 200 && status < 300 {
			if out != nil && len(bytes.TrimSpace(body)) > 0 {
				if err := json.Unmarshal(body, out); err != nil {
					return status, &TemporaryError{Status: status, Err: fmt.Errorf("decode %s %s: %w", method, path, err)}
				}
			}
			return status, nil
		}
		var eb errorBody
		_ = json.Unmarshal(body, &eb)
		api := &APIError{Status: status, Method: method, Path: path, Category: eb.Category, Message: eb.Message, CorrelationID: eb.CorrelationID}
		switch {
		case status == http.StatusUnauthorized:
			if !refreshed {
				refreshed = true
				c.Tokens.Invalidate(portalID, token)
				attempt-- // a refresh is not a retry of HubSpot's fault
				continue
			}
			return status, &UnauthorizedError{API: api}
		case status == http.StatusTooManyRequests:
			rl := c.rateLimited(ctx, portalID, resp.Header, eb, api)
			metrics.HubSpotRateLimited.WithLabelValues(metrics.OneOf(rl.Policy, PolicyTenSecondly, PolicySecondly, PolicyDaily)).Inc()
			c.log().Warn("hubspot rate limited", "portal_id", portalID, "policy", rl.Policy, "retry_after", rl.RetryAfter.String(), "path", path)
			if rl.Policy == PolicyDaily || rl.RetryAfter > c.maxInlineWait() || attempt == c.maxAttempts() {
				return status, rl
			}
			last = rl
			if err := c.sleep(ctx, rl.RetryAfter); err != nil {
				return status, err
			}
		case status >= 500:
			last = &TemporaryError{Status: status, Err: api}
			if attempt < c.maxAttempts() {
				if err := c.sleep(ctx, backoff(attempt)); err != nil {
					return status, err
				}
			}
		default:
			return status, &PermanentError{API: api}
		}
	}
	return 0, last
}

// laneOf is a call's priority in the portal's budget: completions first, then reads (a message
// waits on them), then the rest.
func (c *Client) laneOf(method, path string) Lane {
	switch {
	case strings.HasPrefix(path, c.Paths.Callbacks+"/"):
		return LaneCompletion
	case method == http.MethodGet:
		return LaneRead
	}
	return LaneBulk
}

// countCall counts one attempt by method and answer class (resp nil: no answer).
func countCall(method string, resp *http.Response) {
	code := "error"
	switch {
	case resp == nil:
	case resp.StatusCode == http.StatusTooManyRequests:
		code = "429"
	default:
		code = strconv.Itoa(resp.StatusCode/100) + "xx"
	}
	metrics.HubSpotRequests.WithLabelValues(method, code).Inc()
}

// backoff is the wait before retry n+1 after a 5xx or a broken connection (HubSpot's own clients
// wait 200 ms × attempt).
func backoff(attempt int) time.Duration { return time.Duration(attempt) * 250 * time.Millisecond }

func (c *Client) rateLimited(ctx context.Context, portalID int64, h http.Header, eb errorBody, api *APIError) *RateLimitedError {
	policy := eb.PolicyName
	if policy == "" {
		policy = PolicySecondly // the search API's 429 names no policy
	}
	rl := &RateLimitedError{Policy: policy, API: api}
	if policy == PolicyDaily {
		loc := time.UTC
		if c.TimeZone != nil {
			if l := c.TimeZone(ctx, portalID); l != nil {
				loc = l
			}
		}
		rl.RetryAfter = UntilNextDay(c.now(), loc)
		return rl
	}
	if s := h.Get("Retry-After"); s != "" {
		if secs, err := strconv.ParseFloat(s, 64); err == nil && secs >= 0 {
			rl.RetryAfter = time.Duration(secs * float64(time.Second))
			return rl
		}
		if t, err := http.ParseTime(s); err == nil {
			rl.RetryAfter = max(t.Sub(c.now()), 0)
			return rl
		}
	}
	switch policy {
	case PolicyTenSecondly:
		rl.RetryAfter = 10 * time.Second
		if c.TenSecondlyWait > 0 {
			rl.RetryAfter = c.TenSecondlyWait
		}
	default:
		rl.RetryAfter = time.Second
	}
	return rl
}

// UntilNextDay is the wait from now until one minute past the next midnight in loc, when HubSpot
// resets a portal's DAILY limit.
func UntilNextDay(now time.Time, loc *time.Location) time.Duration {
	l := now.In(loc)
	next := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 1, 0, 0, loc)
	return next.Sub(now)
}

func hasStatus(err error, statuses []int) bool {
	var p *PermanentError
	if !errors.As(err, &p) {
		return false
	}
	for _, s := range statuses {
		if p.API.Status == s {
			return true
		}
	}
	return false
}

// ObjectPath turns a record type as HubSpot's action payload spells it (CONTACT, DEAL, 0-1) into
// the plural of the CRM paths (contacts, deals).
func ObjectPath(objectType string) string {
	switch t := strings.ToLower(strings.TrimSpace(objectType)); t {
	case "contact", "contacts", "0-1":
		return "contacts"
	case "company", "companies", "0-2":
		return "companies"
	case "deal", "deals", "0-3":
		return "deals"
	case "ticket", "tickets", "0-5":
		return "tickets"
	case "note", "notes", "0-4":
		return "notes"
	default:
		return t
	}
}

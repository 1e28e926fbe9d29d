package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrRefreshRevoked means HubSpot refused a refresh token (revoked, or the app uninstalled).
var ErrRefreshRevoked = errors.New("hubspot: refresh token revoked")

// ErrUnavailable means HubSpot kept answering 429 or 5xx, or could not be reached, until the
// retries ran out; the last failure is wrapped with it.
var ErrUnavailable = errors.New("hubspot: unavailable")

// DefaultScopes are the scopes the install asks for; timeline is optional because HubSpot grants
// it to timeline partners only.
var (
	DefaultScopes         = []string{"oauth", "automation", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.companies.read", "crm.objects.companies.write", "crm.objects.deals.read", "crm.objects.deals.write", "tickets", "crm.schemas.contacts.write", "crm.schemas.companies.write", "crm.schemas.deals.write"}
	DefaultOptionalScopes = []string{"timeline"}
)

// OAuth is the app's OAuth 2.0 setup with HubSpot.
type OAuth struct {
	ClientID, ClientSecret string
	RedirectURI            string   // our /oauth/callback, exactly as registered in the app
	AuthorizeURL           string   // https://app.hubspot.com/oauth/authorize
	TokenURL               string   // {api}/oauth/v1/token
	InfoURL                string   // {api}/oauth/v1/access-tokens (for the hub id when the token answer lacks it)
	Scopes, OptionalScopes []string // space-joined in the authorize URL
	HTTP                   *http.Client
	// Backoff is the first wait between two tries of a failed exchange (default 500 ms, doubling
	// up to 4 s); AttemptTimeout bounds one try (default 8 s); MaxAttempts bounds the tries of a
	// context without a deadline (default 5). A context's deadline always bounds them all.
	Backoff        time.Duration
	AttemptTimeout time.Duration
	MaxAttempts    int
}

// Token is what the token endpoint returns.
type Token struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	HubID        int64
	Scopes       []string
}

// AuthorizeURLFor is where /oauth/install sends the installing user.
func (o *OAuth) AuthorizeURLFor(state string) string {
	q := url.Values{"client_id": {o.ClientID}, "redirect_uri": {o.RedirectURI}, "scope": {strings.Join(o.Scopes, " ")}}
	if len(o.OptionalScopes) > 0 {
		q.Set("optional_scope", strings.Join(o.OptionalScopes, " "))
	}
	if state != "" {
		q.Set("state", state)
	}
	return o.AuthorizeURL + "?" + q.Encode()
}

// Exchange trades an authorization code for tokens. A 429 (after its Retry-After), a 5xx or a
// failed connection is tried again with a growing backoff until ctx's deadline (the installing
// user's request) would pass: then the error wraps ErrUnavailable. Only HubSpot refusing the code
// (a 4xx such as 400 BAD_AUTH_CODE / invalid_grant) is a PermanentError.
func (o *OAuth) Exchange(ctx context.Context, code string) (Token, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {o.RedirectURI}}
	var t Token
	err := o.retry(ctx, func(ctx context.Context) (err error) {
		t, err = o.token(ctx, form)
		return err
	})
	if err != nil || (t.HubID != 0 && len(t.Scopes) > 0) {
		return t, err
	}
	// The token answer may lack the hub id or the scopes; the token's info has both. The scopes
	// decide, among others, timeline events or notes for the portal.
	info, err := o.TokenInfo(ctx, t.AccessToken)
	if err != nil {
		return Token{}, err
	}
	if t.HubID == 0 {
		t.HubID = info.HubID
	}
	if len(t.Scopes) == 0 {
		t.Scopes = info.Scopes
	}
	return t, nil
}

// TokenInfo is what HubSpot says of an access token: its portal and the scopes granted.
type TokenInfo struct {
	HubID  int64    `json:"hub_id"`
	Scopes []string `json:"scopes"`
}

// TokenInfo reads an OAuth access token's portal and granted scopes
// (GET /oauth/v1/access-tokens/{token}), retried like Exchange.
func (o *OAuth) TokenInfo(ctx context.Context, accessToken string) (TokenInfo, error) {
	var info TokenInfo
	if err := o.retry(ctx, func(ctx context.Context) error {
		return o.getJSON(ctx, o.InfoURL+"/"+url.PathEscape(accessToken), &info)
	}); err != nil {
		return TokenInfo{}, fmt.Errorf("hubspot: token info: %w", err)
	}
	return info, nil
}

// Refresh gets a new access token; a refused refresh token gives ErrRefreshRevoked.
func (o *OAuth) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	return o.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

// retry runs call until it succeeds, fails for good, or the next try would not fit before ctx's
// deadline (or MaxAttempts tries were made when ctx has none).
func (o *OAuth) retry(ctx context.Context, call func(context.Context) error) error {
	wait := o.Backoff
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	attemptTimeout := o.AttemptTimeout
	if attemptTimeout <= 0 {
		attemptTimeout = 8 * time.Second
	}
	maxAttempts := o.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	deadline, bounded := ctx.Deadline()
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := call(actx)
		cancel()
		if err == nil || !retryable(ctx, err) {
			return err
		}
		pause := wait
		var rl *RateLimitedError
		if errors.As(err, &rl) && rl.RetryAfter > pause {
			pause = rl.RetryAfter
		}
		if bounded && time.Until(deadline) < pause+time.Second || !bounded && attempt >= maxAttempts {
			return fmt.Errorf("%w after %d tries: %w", ErrUnavailable, attempt, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w after %d tries: %w", ErrUnavailable, attempt, err)
		case <-time.After(pause):
		}
		wait = min(2*wait, 4*time.Second)
	}
}

// retryable says whether another try may succeed: a 429, a 5xx, a failed connection, or one try
// timing out while the caller's context is still alive.
func retryable(ctx context.Context, err error) bool {
	var rl *RateLimitedError
	var tmp *TemporaryError
	switch {
	case ctx.Err() != nil:
		return false
	case errors.As(err, &rl), errors.As(err, &tmp):
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

func (o *OAuth) client() *http.Client {
	if o.HTTP != nil {
		return o.HTTP
	}
	return &http.Client{Timeout: 15 * time.Second}
}

func (o *OAuth) token(ctx context.Context, form url.Values) (Token, error) {
	form.Set("client_id", o.ClientID)
	form.Set("client_secret", o.ClientSecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := o.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Token{}, ctx.Err()
		}
		return Token{}, &TemporaryError{Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var r struct {
		AccessToken  string   `json:"access_token"`
		RefreshToken string   `json:"refresh_token"`
		ExpiresIn    int64    `json:"expires_in"`
		HubID        int64    `json:"hub_id"`
		Scopes       []string `json:"scopes"`
		// errors: HubSpot's {"status":"BAD_REFRESH_TOKEN",...} or OAuth's {"error":"invalid_grant"}
		Status   string `json:"status"`
		Error    string `json:"error"`
		Message  string `json:"message"`
		Category string `json:"category"`
	}
	_ = json.Unmarshal(body, &r)
	switch {
	case resp.StatusCode == http.StatusOK && r.AccessToken != "":
		return Token{AccessToken: r.AccessToken, RefreshToken: r.RefreshToken, ExpiresIn: time.Duration(r.ExpiresIn) * time.Second,
			HubID: r.HubID, Scopes: r.Scopes}, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		rl := &RateLimitedError{Policy: PolicyTenSecondly, RetryAfter: 10 * time.Second, API: &APIError{Status: 429, Method: "POST", Path: "/oauth/v1/token", Message: r.Message}}
		if d, err := time.ParseDuration(resp.Header.Get("Retry-After") + "s"); err == nil {
			rl.RetryAfter = d
		}
		return Token{}, rl
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusOK:
		return Token{}, &TemporaryError{Status: resp.StatusCode, Err: fmt.Errorf("token endpoint: %s", r.Message)}
	}
	api := &APIError{Status: resp.StatusCode, Method: "POST", Path: "/oauth/v1/token", Category: r.Status, Message: r.Message}
	if form.Get("grant_type") == "refresh_token" && (r.Status == "BAD_REFRESH_TOKEN" || r.Error == "invalid_grant") {
		return Token{}, fmt.Errorf("%w: %w", ErrRefreshRevoked, &PermanentError{API: api})
	}
	return Token{}, &PermanentError{API: api}
}

func (o *OAuth) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := o.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &TemporaryError{Err: err}
	}
	defer resp.Body.Close()
	api := &APIError{Status: resp.StatusCode, Method: "GET", Path: "/oauth/v1/access-tokens"}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		rl := &RateLimitedError{Policy: PolicyTenSecondly, RetryAfter: 10 * time.Second, API: api}
		if d, err := time.ParseDuration(resp.Header.Get("Retry-After") + "s"); err == nil {
			rl.RetryAfter = d
		}
		return rl
	case resp.StatusCode >= 500:
		return &TemporaryError{Status: resp.StatusCode, Err: api}
	case resp.StatusCode != http.StatusOK:
		return &PermanentError{API: api}
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

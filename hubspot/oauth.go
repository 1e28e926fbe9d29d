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

// Exchange trades an authorization code for tokens.
func (o *OAuth) Exchange(ctx context.Context, code string) (Token, error) {
	t, err := o.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {o.RedirectURI}})
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
// (GET /oauth/v1/access-tokens/{token}).
func (o *OAuth) TokenInfo(ctx context.Context, accessToken string) (TokenInfo, error) {
	var info TokenInfo
	if err := o.getJSON(ctx, o.InfoURL+"/"+url.PathEscape(accessToken), &info); err != nil {
		return TokenInfo{}, fmt.Errorf("hubspot: token info: %w", err)
	}
	return info, nil
}

// Refresh gets a new access token; a refused refresh token gives ErrRefreshRevoked.
func (o *OAuth) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	return o.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
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
		return &TemporaryError{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &PermanentError{API: &APIError{Status: resp.StatusCode, Method: "GET", Path: "/oauth/v1/access-tokens"}}
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

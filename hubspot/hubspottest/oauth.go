package hubspottest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// token is an access token the fake issued or was given.
type token struct {
	portal  int64
	expires time.Time // zero: never (private app)
	scopes  []string
}

// AddToken registers an access token for a portal; ttl 0 means it never expires (private app).
func (f *Fake) AddToken(portalID int64, accessToken string, ttl time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := token{portal: portalID}
	if ttl > 0 {
		t.expires = f.now().Add(ttl)
	}
	f.tokens[accessToken] = t
}

// IssueCode returns an authorization code that installs the app in portalID.
func (f *Fake) IssueCode(portalID int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := "code-" + randomHex(8)
	f.codes[c] = portalID
	return c
}

// RevokeRefreshTokens revokes every refresh token of the portal (an uninstall).
func (f *Fake) RevokeRefreshTokens(portalID int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for r, p := range f.refresh {
		if p == portalID {
			f.revoked[r] = true
		}
	}
}

// Refreshes counts the refresh-token grants of a portal.
func (f *Fake) Refreshes(portalID int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes[portalID]
}

// authorizePage is GET /oauth/authorize, where the user approves at once: back to redirect_uri
// with a code for ?portal= (or DefaultPortal).
func (f *Fake) authorizePage(w http.ResponseWriter, r *http.Request) {
	portal := DefaultPortal
	if p, err := strconv.ParseInt(r.URL.Query().Get("portal"), 10, 64); err == nil {
		portal = p
	}
	if r.URL.Query().Get("client_id") != f.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	u, err := url.Parse(r.URL.Query().Get("redirect_uri"))
	if err != nil || u.Scheme == "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := u.Query()
	q.Set("code", f.IssueCode(portal))
	if s := r.URL.Query().Get("state"); s != "" {
		q.Set("state", s)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// issueToken is POST /oauth/v1/token (and v3): the authorization-code and refresh-token grants.
func (f *Fake) issueToken(w http.ResponseWriter, r *http.Request) {
	if f.oauthFault(w, r) {
		return
	}
	form, err := url.ParseQuery(string(exchangeOf(r).body))
	if err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		writeJSON(w, 400, map[string]any{"status": "BAD_REQUEST", "message": "form body expected", "correlationId": correlation()})
		return
	}
	if form.Get("client_id") != f.ClientID || form.Get("client_secret") != f.ClientSecret {
		writeJSON(w, 400, map[string]any{"status": "BAD_CLIENT_ID", "message": "missing or unknown client id", "correlationId": correlation()})
		return
	}
	ttl := f.TokenTTL
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	scopes := []string{"oauth", "automation", "crm.objects.contacts.read", "crm.objects.contacts.write"}
	if f.GrantScopes != nil {
		scopes = append([]string(nil), f.GrantScopes...)
	}
	portal, refresh, errStatus := f.grant(form)
	if errStatus != "" {
		writeJSON(w, 400, map[string]any{"status": errStatus, "message": "missing or unknown " + strings.ToLower(strings.TrimPrefix(errStatus, "BAD_")), "correlationId": correlation()})
		return
	}
	access := "access-" + randomHex(16)
	f.mu.Lock()
	f.tokens[access] = token{portal: portal, expires: f.now().Add(ttl), scopes: scopes}
	f.mu.Unlock()
	answer := map[string]any{"access_token": access, "refresh_token": refresh, "expires_in": int(ttl.Seconds()),
		"token_type": "bearer", "hub_id": portal, "scopes": scopes}
	if f.TokenAnswerWithoutScopes {
		delete(answer, "scopes")
	}
	writeJSON(w, 200, answer)
}

// grant checks a code or refresh token; errStatus is HubSpot's error status when refused.
func (f *Fake) grant(form url.Values) (portal int64, refresh, errStatus string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch form.Get("grant_type") {
	case "authorization_code":
		p, ok := f.codes[form.Get("code")]
		if !ok {
			return 0, "", "BAD_AUTH_CODE"
		}
		delete(f.codes, form.Get("code"))
		refresh = "refresh-" + randomHex(12)
		f.refresh[refresh] = p
		return p, refresh, ""
	case "refresh_token":
		refresh = form.Get("refresh_token")
		p, ok := f.refresh[refresh]
		if !ok || f.revoked[refresh] {
			return 0, "", "BAD_REFRESH_TOKEN"
		}
		f.refreshes[p]++
		return p, refresh, ""
	}
	return 0, "", "BAD_GRANT_TYPE"
}

// tokenInfo is GET /oauth/v1/access-tokens/{token}: the portal and scopes of an access token.
func (f *Fake) tokenInfo(w http.ResponseWriter, r *http.Request) {
	if f.oauthFault(w, r) {
		return
	}
	tok := r.PathValue("token")
	f.mu.Lock()
	t, ok := f.tokens[tok]
	f.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "token not found")
		return
	}
	writeJSON(w, 200, map[string]any{"token": tok, "hub_id": t.portal, "scopes": t.scopes, "token_type": "access",
		"expires_in": int(time.Until(t.expires).Seconds()), "app_id": 1})
}

// oauthNotFound answers an /oauth/ path or method the fake does not serve.
func (f *Fake) oauthNotFound(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotFound, "NOT_FOUND", "no such OAuth endpoint")
}

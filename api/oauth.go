package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"smsflow/hubspot"
	"smsflow/store"
)

// Timeouts of the install: the code exchange is on the request path (the user waits for it, while
// HubSpot's 429s and 5xx are retried), the portal set-up (properties, time zone) runs in the
// background, bounded.
const (
	oauthStateMaxAge = time.Hour
	setUpTimeout     = 2 * time.Minute
)

// exchangeTimeout bounds the code exchange with its retries; a variable so tests stay short.
var exchangeTimeout = 20 * time.Second

type oauthHandlers struct {
	d      Deps
	oauth  *hubspot.OAuth
	tokens *store.Tokens
	client *hubspot.Client
	mgr    *hubspot.TokenManager
	broken string // why the install cannot work with this configuration
	now    func() time.Time
}

// registerOAuth adds GET /oauth/install and GET /oauth/callback, the callback rate-limited per
// client IP: each one calls HubSpot.
func registerOAuth(r *gin.Engine, d Deps) {
	h := &oauthHandlers{d: d, oauth: hubspot.NewOAuthFromConfig(d.Config.HubSpot, d.Config.PublicBaseURL), now: time.Now}
	switch {
	case d.Config.HubSpot.ClientID == "" || d.Config.HubSpot.ClientSecret == "":
		h.broken = "HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET are not set"
	case d.Store == nil:
		h.broken = "no database"
	default:
		tokens, err := store.NewTokens(d.Store, d.Config.HubSpot.TokenKeyring())
		if err != nil {
			h.broken = err.Error()
			break
		}
		h.tokens = tokens
		h.mgr = &hubspot.TokenManager{Store: tokens, Portals: d.Store, OAuth: h.oauth}
		if h.client, err = hubspot.NewClientFromConfig(d.Config.HubSpot, h.mgr); err != nil {
			h.broken = err.Error()
		} else {
			h.client.Log, h.client.TimeZone = d.Log, hubspot.PortalTimeZones(d.Store)
			// The install's set-up calls share the portal's budget with the workers.
			h.client.Budget = hubspot.NewLimiter(d.Config.HubSpot, d.Store, h.client.TimeZone)
		}
	}
	if h.broken != "" {
		d.Log.Warn("HubSpot install disabled", "reason", h.broken)
	}
	r.GET("/oauth/install", h.install)
	r.GET("/oauth/callback", perClient(newLimiter(oauthPerIP)), h.callback)
}

// state is "unix.nonce.mac": the callback accepts only states we issued within the hour, in any
// replica (the MAC key is the app secret), with nothing stored.
func (h *oauthHandlers) state() string {
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	payload := strconv.FormatInt(h.now().Unix(), 10) + "." + hex.EncodeToString(nonce)
	return payload + "." + h.mac(payload)
}

func (h *oauthHandlers) mac(payload string) string {
	m := hmac.New(sha256.New, []byte(h.d.Config.HubSpot.ClientSecret))
	m.Write([]byte("smsflow-oauth-state:" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *oauthHandlers) validState(s string) bool {
	i := strings.LastIndex(s, ".")
	if i < 0 || !hmac.Equal([]byte(s[i+1:]), []byte(h.mac(s[:i]))) {
		return false
	}
	ts, _, _ := strings.Cut(s[:i], ".")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	age := h.now().Sub(time.Unix(unix, 0))
	return age >= -time.Minute && age <= oauthStateMaxAge
}

func (h *oauthHandlers) install(c *gin.Context) {
	if h.broken != "" {
		c.String(http.StatusServiceUnavailable, "HubSpot install is not configured: %s\n", h.broken)
		return
	}
	c.Redirect(http.StatusFound, h.oauth.AuthorizeURLFor(h.state()))
}

func (h *oauthHandlers) page(c *gin.Context, status int, title, text string) {
	c.Data(status, "text/html; charset=utf-8", []byte(fmt.Sprintf(
		"<!doctype html><html><head><meta charset=utf-8><title>%s</title></head><body><h1>%s</h1><p>%s</p></body></html>",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))))
}

func (h *oauthHandlers) callback(c *gin.Context) {
	if h.broken != "" {
		h.page(c, http.StatusServiceUnavailable, "Install unavailable", "The SMS app is not configured for installs yet.")
		return
	}
	if e := c.Query("error"); e != "" {
		h.page(c, http.StatusBadRequest, "Install cancelled", "HubSpot answered: "+e+" "+c.Query("error_description"))
		return
	}
	code := c.Query("code")
	if code == "" || !h.validState(c.Query("state")) {
		h.page(c, http.StatusBadRequest, "Install link expired", "Start the install again from HubSpot.")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), exchangeTimeout)
	defer cancel()
	tok, err := h.oauth.Exchange(ctx, code)
	if err != nil {
		h.d.Log.Warn("oauth code exchange failed", "error", err)
		var perm *hubspot.PermanentError
		if errors.As(err, &perm) {
			h.page(c, http.StatusBadRequest, "Install failed", "HubSpot refused the authorization code; start the install again.")
			return
		}
		// HubSpot rate-limited us, failed or did not answer through every retry: nothing was
		// refused, and the same link may still work in a moment.
		c.Header("Retry-After", "60")
		h.page(c, http.StatusServiceUnavailable, "HubSpot is unavailable",
			"HubSpot is not answering right now, so the install could not finish. Try again in a minute: reload this page, or start the install again from HubSpot.")
		return
	}
	if tok.HubID <= 0 {
		h.page(c, http.StatusBadGateway, "Install failed", "HubSpot did not say which account installed the app.")
		return
	}
	exp := h.now().Add(tok.ExpiresIn)
	if err := h.tokens.Save(ctx, store.Token{PortalID: tok.HubID, Kind: store.TokenOAuth, AccessToken: tok.AccessToken,
		RefreshToken: tok.RefreshToken, ExpiresAt: &exp, Scopes: tok.Scopes}); err != nil {
		h.d.Log.Error("save oauth tokens", "error", err, "portal_id", tok.HubID)
		h.page(c, http.StatusServiceUnavailable, "Install failed", "The tokens could not be stored; try again in a minute.")
		return
	}
	h.mgr.Invalidate(tok.HubID, "") // a re-install replaces whatever this process had cached
	portal := tok.HubID
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), setUpTimeout)
		defer cancel()
		if err := hubspot.SetUpPortal(ctx, h.client, h.d.Store, portal); err != nil {
			h.d.Log.Error("portal set-up failed; properties_ready_at stays NULL for a retry", "error", err, "portal_id", portal)
			return
		}
		h.d.Log.Info("portal set up", "portal_id", portal)
	}()
	h.d.Log.Info("portal installed", "portal_id", portal)
	h.page(c, http.StatusOK, "SMS app installed", fmt.Sprintf("HubSpot account %d is connected. You can add the Send SMS action to your workflows.", portal))
}

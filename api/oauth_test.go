package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"smsflow/api"
	"smsflow/config"
	"smsflow/hubspot/hubspottest"
	"smsflow/internal/testenv"
	"smsflow/store"
)

const oauthKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func oauthServer(t *testing.T) (*httptest.Server, *hubspottest.Fake, *store.Store) {
	t.Helper()
	db, err := store.Open(context.Background(), testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	fake := hubspottest.NewServer(t, "app-client-id", actionSecret)
	fake.SetTimeZone(hubspottest.DefaultPortal, "Europe/Paris")
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg := config.Config{PublicBaseURL: srv.URL, HubSpot: config.HubSpot{
		APIBaseURL: fake.URL, AuthorizeURL: fake.URL + "/oauth/authorize", ClientID: "app-client-id", ClientSecret: actionSecret,
		TokenKey: oauthKey, Scopes: "oauth automation crm.objects.contacts.write", OptionalScopes: "timeline", CallbackDoneStatuses: "404,409",
	}}
	h = api.NewRouter(api.Deps{Log: slog.New(slog.DiscardHandler), Config: cfg, Store: db, Ready: map[string]api.Check{}})
	return srv, fake, db
}

func TestOAuthInstall(t *testing.T) {
	srv, fake, db := oauthServer(t)
	ctx := context.Background()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(srv.URL + "/oauth/install")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), fake.URL+"/oauth/authorize?") ||
		q.Get("client_id") != "app-client-id" || q.Get("redirect_uri") != srv.URL+"/oauth/callback" ||
		q.Get("scope") != "oauth automation crm.objects.contacts.write" || q.Get("optional_scope") != "timeline" || q.Get("state") == "" {
		t.Fatalf("install redirect %d to %s", resp.StatusCode, loc)
	}

	// The user approves in HubSpot (the fake approves at once) and comes back to our callback.
	resp, err = http.Get(srv.URL + "/oauth/install")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte("62515")) {
		t.Fatalf("callback %d: %s", resp.StatusCode, page)
	}
	tokens, _ := store.NewTokens(db, oauthKey)
	tok, err := tokens.Get(ctx, hubspottest.DefaultPortal)
	if err != nil || !strings.HasPrefix(tok.AccessToken, "access-") || !strings.HasPrefix(tok.RefreshToken, "refresh-") ||
		tok.ExpiresAt == nil || time.Until(*tok.ExpiresAt) < 20*time.Minute || tok.PortalStatus != store.PortalConnected {
		t.Fatalf("stored token %+v, %v", tok, err)
	}
	// Set-up runs in the background: properties and time zone arrive shortly.
	var p store.Portal
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if p, err = db.Portal(ctx, hubspottest.DefaultPortal); err == nil && p.PropertiesReadyAt != nil && p.TimeZone != "" {
			break
		}
	}
	if p.PropertiesReadyAt == nil || p.TimeZone != "Europe/Paris" {
		t.Fatalf("portal after set-up: %+v", p)
	}
	if !fake.HasProperty(hubspottest.DefaultPortal, "contacts", "smsflow_last_status") {
		t.Fatal("properties not created")
	}
	for _, c := range fake.CallsTo("POST", "/crm/v3/properties/") {
		if c.Authorization != "Bearer "+tok.AccessToken {
			t.Fatalf("property call with %q", c.Authorization)
		}
	}
}

func TestOAuthCallbackRefusesForgedStateAndBadCode(t *testing.T) {
	srv, fake, db := oauthServer(t)
	for _, tc := range []struct{ query string }{
		{"code=" + fake.IssueCode(1) + "&state=1700000000.abc.forged"},
		{"code=" + fake.IssueCode(1)},
		{"error=access_denied"},
	} {
		resp, err := http.Get(srv.URL + "/oauth/callback?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", tc.query, resp.StatusCode)
		}
	}
	// A valid state from /oauth/install with an unknown code: HubSpot refuses it.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(srv.URL + "/oauth/install")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	resp, err = http.Get(srv.URL + "/oauth/callback?code=bogus&state=" + url.QueryEscape(loc.Query().Get("state")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad code: %d", resp.StatusCode)
	}
	if _, err := db.Portal(context.Background(), 1); err == nil {
		t.Fatal("a refused install stored a portal")
	}
}

// installCallback follows /oauth/install to HubSpot's consent page and returns the callback URL
// HubSpot sends the user back to (with its code and state), without calling it.
func installCallback(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(srv.URL + "/oauth/install")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = noRedirect.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}

func getPage(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A 429 or 5xx from HubSpot during the install is retried, and never shown as a refused code.
func TestOAuthInstallRetriesHubSpotFaults(t *testing.T) {
	defer api.SetExchangeTimeout(4 * time.Second)()
	srv, fake, db := oauthServer(t)
	ctx := context.Background()

	// Rate-limited twice, then served: the install goes through on the first visit.
	fake.Inject(hubspottest.Fault{PathPrefix: "/oauth/v1/token", Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 2})
	if status, page := getPage(t, installCallback(t, srv)); status != 200 || !strings.Contains(page, "62515") {
		t.Fatalf("after two 429s: %d %s", status, page)
	}
	if n := len(fake.CallsTo("POST", "/oauth/v1/token")); n != 3 {
		t.Fatalf("%d token calls, want 3", n)
	}

	// HubSpot failing for longer than the request may wait: a 5xx page saying HubSpot is
	// unavailable, nothing stored; the same link works once HubSpot is back.
	callback := installCallback(t, srv)
	fake.Inject(hubspottest.Fault{PathPrefix: "/oauth/v1/token", Status: http.StatusServiceUnavailable, Times: 1000})
	status, page := getPage(t, callback)
	if status != http.StatusServiceUnavailable || !strings.Contains(page, "HubSpot is unavailable") || strings.Contains(strings.ToLower(page), "refused") {
		t.Fatalf("HubSpot down: %d %s", status, page)
	}
	fake.ClearFaults()
	if status, page := getPage(t, callback); status != 200 {
		t.Fatalf("the same link after HubSpot recovered: %d %s", status, page)
	}
	if tokens, _ := store.NewTokens(db, oauthKey); tokens != nil {
		if _, err := tokens.Get(ctx, hubspottest.DefaultPortal); err != nil {
			t.Fatalf("token after the install: %v", err)
		}
	}
	// A dropped connection is retried too.
	fake.Inject(hubspottest.Fault{PathPrefix: "/oauth/v1/token", Hangup: true, Times: 1})
	if status, page := getPage(t, installCallback(t, srv)); status != 200 {
		t.Fatalf("after a dropped connection: %d %s", status, page)
	}
}

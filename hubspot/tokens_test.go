package hubspot_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"smsflow/hubspot"
	"smsflow/hubspot/hubspottest"
	"smsflow/internal/testenv"
	"smsflow/store"
)

const tokenKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

type tokenEnv struct {
	fake   *hubspottest.Fake
	db     *store.Store
	tokens *store.Tokens
	oauth  *hubspot.OAuth
}

func newTokenEnv(t *testing.T) *tokenEnv {
	t.Helper()
	db, err := store.Open(context.Background(), testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	tokens, err := store.NewTokens(db, tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	f := hubspottest.NewServer(t, "client-id", "client-secret")
	o := &hubspot.OAuth{ClientID: "client-id", ClientSecret: "client-secret", RedirectURI: "https://sms.example.com/oauth/callback",
		TokenURL: f.URL + "/oauth/v1/token", InfoURL: f.URL + "/oauth/v1/access-tokens"}
	return &tokenEnv{fake: f, db: db, tokens: tokens, oauth: o}
}

// install stores the tokens of a code exchange, with the access token expiring at exp.
func (e *tokenEnv) install(t *testing.T, portalID int64, exp time.Time) hubspot.Token {
	t.Helper()
	tok, err := e.oauth.Exchange(context.Background(), e.fake.IssueCode(portalID))
	if err != nil || tok.HubID != portalID || tok.RefreshToken == "" {
		t.Fatalf("Exchange = %+v, %v", tok, err)
	}
	if err := e.tokens.Save(context.Background(), store.Token{PortalID: portalID, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *tokenEnv) manager() *hubspot.TokenManager {
	return &hubspot.TokenManager{Store: e.tokens, Portals: e.db, OAuth: e.oauth}
}

func TestTokenRefreshedAheadOfExpiry(t *testing.T) {
	e := newTokenEnv(t)
	ctx := context.Background()
	fresh := e.install(t, 1, time.Now().Add(time.Hour))
	m := e.manager()
	if got, err := m.AccessToken(ctx, 1); err != nil || got != fresh.AccessToken || e.fake.Refreshes(1) != 0 {
		t.Fatalf("fresh token: %q, %v, %d refreshes", got, err, e.fake.Refreshes(1))
	}
	old := e.install(t, 2, time.Now().Add(2*time.Minute)) // inside the 5-minute margin
	got, err := m.AccessToken(ctx, 2)
	if err != nil || got == old.AccessToken || e.fake.Refreshes(2) != 1 {
		t.Fatalf("expiring token: %q, %v, %d refreshes", got, err, e.fake.Refreshes(2))
	}
	stored, _ := e.tokens.Get(ctx, 2)
	if stored.AccessToken != got || stored.RefreshToken != old.RefreshToken || time.Until(*stored.ExpiresAt) < 20*time.Minute {
		t.Fatalf("stored after refresh: %+v", stored)
	}
	// A token that got a 401 is refreshed although it looks valid.
	m.Invalidate(2, got)
	again, err := m.AccessToken(ctx, 2)
	if err != nil || again == got || e.fake.Refreshes(2) != 2 {
		t.Fatalf("after a 401: %q, %v, %d refreshes", again, err, e.fake.Refreshes(2))
	}
}

func TestConcurrentCallersRefreshOnce(t *testing.T) {
	e := newTokenEnv(t)
	e.install(t, 3, time.Now().Add(-time.Minute)) // expired
	// Two managers stand for two worker processes; each gets ten concurrent callers.
	managers := []*hubspot.TokenManager{e.manager(), e.manager()}
	var wg sync.WaitGroup
	got := make(chan string, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := managers[i%2].AccessToken(context.Background(), 3)
			if err != nil {
				t.Error(err)
			}
			got <- tok
		}()
	}
	wg.Wait()
	close(got)
	seen := map[string]bool{}
	for tok := range got {
		seen[tok] = true
	}
	if n := e.fake.Refreshes(3); n != 1 || len(seen) != 1 {
		t.Fatalf("%d refreshes and %d distinct tokens for 20 concurrent callers, want 1 and 1", n, len(seen))
	}
}

func TestRevokedRefreshTokenDisconnectsThePortal(t *testing.T) {
	e := newTokenEnv(t)
	ctx := context.Background()
	e.install(t, 4, time.Now().Add(-time.Minute))
	e.fake.RevokeRefreshTokens(4)
	m := e.manager()
	_, err := m.AccessToken(ctx, 4)
	if !errors.Is(err, hubspot.ErrPortalDisconnected) {
		t.Fatalf("err = %v, want ErrPortalDisconnected", err)
	}
	p, err := e.db.Portal(ctx, 4)
	if err != nil || p.Status != store.PortalDisconnected {
		t.Fatalf("portal = %+v, %v", p, err)
	}
	calls := len(e.fake.CallsTo("POST", "/oauth/v1/token"))
	if _, err := e.manager().AccessToken(ctx, 4); !errors.Is(err, hubspot.ErrPortalDisconnected) {
		t.Fatalf("second call: %v", err)
	}
	if n := len(e.fake.CallsTo("POST", "/oauth/v1/token")); n != calls {
		t.Fatal("a disconnected portal still calls the token endpoint")
	}
	// Through the client, the activity sees a non-retryable PORTAL_DISCONNECTED.
	c := hubspot.NewClient(e.fake.URL, m)
	err = c.CompleteCallback(ctx, 4, "ap-1", nil)
	if !errors.Is(err, hubspot.ErrPortalDisconnected) {
		t.Fatalf("client: %v", err)
	}
	if _, err := e.manager().AccessToken(ctx, 999); !errors.Is(err, hubspot.ErrNoToken) {
		t.Fatalf("never installed: %v", err)
	}
}

func TestPrivateAppToken(t *testing.T) {
	e := newTokenEnv(t)
	ctx := context.Background()
	if err := e.tokens.Save(ctx, store.Token{PortalID: 5, Kind: store.TokenPrivateApp, AccessToken: "pat-na1-xyz"}); err != nil {
		t.Fatal(err)
	}
	e.fake.AddToken(5, "pat-na1-xyz", 0)
	e.fake.SetObject(5, "contacts", "1", map[string]string{"phone": "+33612345678"})
	c := hubspot.NewClient(e.fake.URL, e.manager())
	got, err := c.GetProperties(ctx, 5, "contacts", "1", []string{"phone"})
	if err != nil || got["phone"] != "+33612345678" {
		t.Fatalf("GetProperties = %v, %v", got, err)
	}
	if calls := e.fake.CallsTo("GET", "/crm/v3/objects/contacts/1"); len(calls) != 1 || calls[0].Authorization != "Bearer pat-na1-xyz" {
		t.Fatalf("calls = %+v", calls)
	}
	if len(e.fake.CallsTo("POST", "/oauth/v1/token")) != 0 {
		t.Fatal("a private-app token was refreshed")
	}
}

// The granted scopes are recorded at install and at each refresh, from the token's info when the
// token answer does not list them; they decide timeline events or notes for the portal.
func TestScopesAreRecordedAtInstallAndRefresh(t *testing.T) {
	e := newTokenEnv(t)
	e.fake.TokenAnswerWithoutScopes = true
	e.fake.GrantScopes = []string{"oauth", "automation", "timeline"}
	tok, err := e.oauth.Exchange(context.Background(), e.fake.IssueCode(7))
	if err != nil || !slices.Equal(tok.Scopes, e.fake.GrantScopes) {
		t.Fatalf("Exchange = %+v, %v; want the scopes from the token info", tok, err)
	}
	exp := time.Now().Add(time.Minute) // within RefreshAhead: the first call refreshes
	if err := e.tokens.Save(context.Background(), store.Token{PortalID: 7, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	e.fake.GrantScopes = []string{"oauth", "automation"} // the timeline scope was withdrawn
	if _, err := e.manager().AccessToken(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	stored, err := e.tokens.Get(context.Background(), 7)
	if err != nil || !slices.Equal(stored.Scopes, []string{"oauth", "automation"}) || e.fake.Refreshes(7) != 1 {
		t.Fatalf("after the refresh: scopes %v (%v), %d refreshes; want the refreshed token's scopes", stored.Scopes, err, e.fake.Refreshes(7))
	}
	settings, err := e.db.PortalSettingsOf(context.Background(), 7)
	if err != nil || !slices.Equal(settings.Scopes, stored.Scopes) {
		t.Fatalf("portal settings scopes = %v, %v", settings.Scopes, err)
	}
}

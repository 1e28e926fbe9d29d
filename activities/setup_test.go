package activities_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"smsflow/activities"
	"smsflow/carrier/sim"
	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/hubspot/hubspottest"
	"smsflow/hubspotsync"
	"smsflow/internal/testenv"
	"smsflow/store"
)

// The portal every test installs, and its outside world's secrets.
const (
	portal        = int64(62515)
	clientID      = "acts-client-id"
	clientSecret  = "acts-client-secret"
	accessToken   = "acts-token"
	webhookSecret = "acts-webhook-secret"
)

// templates are the timeline event template ids the tests configure. SMS_RESPONSE has none on
// purpose: a status without a template is written as a note.
const templates = "SMS_SENT=1001,SMS_NOT_SENT=1002,SMS_DELIVERED=1003,SMS_NOT_DELIVERED=1004,SMS_CLICKED=1005,SMS_UNSUBSCRIBED=1007"

// stack is one test's activities with their real PostgreSQL, fake HubSpot and carrier simulator.
type stack struct {
	ctx     context.Context
	acts    *activities.Activities
	sender  *hubspotsync.Sender // delivers what Publish queued for HubSpot
	db      *store.Store
	hs      *hubspottest.Fake
	sim     *sim.Sim
	baseURL string // PUBLIC_BASE_URL: a stub API taking the simulator's callbacks
}

// stackOptions change the defaults of newStack.
type stackOptions struct {
	Sim sim.Options
	Env map[string]string // configuration overrides
	// NotSetUp leaves the portal's install unfinished: the token works, but our properties are
	// not created and properties_ready_at is NULL.
	NotSetUp bool
	// Scopes are the OAuth scopes the portal granted; nil: an install that granted timeline
	// events.
	Scopes []string
}

// grantedScopes are the scopes of an install that granted timeline events.
var grantedScopes = []string{"oauth", "automation", "timeline", "crm.objects.contacts.write"}

// newStack wires the activities the way the worker does (activities.FromConfig over a
// configuration read by config.FromLookup), with the portal installed as internal/harness does it:
// an encrypted private-app token in PostgreSQL that the fake HubSpot knows, and our properties
// created. HubSpot's inline retry waits are skipped, so fault tests do not wait for back-offs.
func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	db := testenv.Store(t)

	hs := hubspottest.New(clientID, clientSecret)
	hsSrv := httptest.NewServer(hs)
	t.Cleanup(hsSrv.Close)
	hs.URL = hsSrv.URL

	// The simulator posts status callbacks to PUBLIC_BASE_URL; a stub takes them.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(api.Close)
	so := o.Sim
	so.APIBaseURL, so.WebhookSecret = api.URL, webhookSecret
	s := sim.New(so)
	simSrv := httptest.NewServer(s)
	t.Cleanup(simSrv.Close)
	t.Cleanup(s.Close) // runs first: stops the simulator's callbacks and held answers

	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := map[string]string{
		"PUBLIC_BASE_URL": api.URL, "HUBSPOT_API_BASE_URL": hs.URL, "HUBSPOT_CLIENT_ID": clientID,
		"HUBSPOT_CLIENT_SECRET": clientSecret, "TOKEN_ENCRYPTION_KEY": key, "PHONE_HASH_KEY": "acts-phone-key",
		"HUBSPOT_TIMELINE_TEMPLATES": templates,
		"CARRIER_PRIMARY":            "sim", "CARRIER_SIM_URL": simSrv.URL, "CARRIER_WEBHOOK_SECRET": webhookSecret,
		// Wake-ups at the exact openings the window tests compute; the spread's tests set one.
		"WAKE_SPREAD": "0s",
	}
	for k, v := range o.Env {
		env[k] = v
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}

	tokens, err := store.NewTokens(db, key)
	if err != nil {
		t.Fatal(err)
	}
	scopes := o.Scopes
	if scopes == nil {
		scopes = grantedScopes
	}
	if err := tokens.Save(ctx, store.Token{PortalID: portal, Kind: store.TokenPrivateApp, AccessToken: accessToken, Scopes: scopes}); err != nil {
		t.Fatal(err)
	}
	hs.AddToken(portal, accessToken, 0)
	if !o.NotSetUp {
		// The install's HubSpot side, as the OAuth callback runs it.
		if err := hubspot.SetUpPortal(ctx, hubspot.NewClient(hs.URL, hubspot.StaticTokens{portal: accessToken}), db, portal); err != nil {
			t.Fatal(err)
		}
	}

	acts, err := activities.FromConfig(cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	hc, ok := acts.HubSpot.(activities.HubSpotClient)
	if !ok {
		t.Fatalf("FromConfig's HubSpot is a %T, want activities.HubSpotClient", acts.HubSpot)
	}
	hc.C.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	sender, err := hubspotsync.FromConfig(cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sender.HubSpot.Sleep = hc.C.Sleep
	return &stack{ctx: ctx, acts: acts, sender: sender, db: db, hs: hs, sim: s, baseURL: api.URL}
}

// sync runs the HubSpot outbox sender until nothing is due, and returns how many rows it finished.
func (s *stack) sync(t *testing.T) int {
	t.Helper()
	n, err := s.sender.Drain(s.ctx)
	if err != nil {
		t.Fatalf("hubspot outbox sender: %v", err)
	}
	return n
}

// calls counts the fake HubSpot's calls of method whose path starts with prefix.
func (s *stack) calls(method, prefix string) int { return len(s.hs.CallsTo(method, prefix)) }

// newID is a message id (the message log keys messages by UUID).
func newID() string { return uuid.NewString() }

// retryable reports whether Temporal retries an activity that returned err: any error but a
// non-retryable application error.
func retryable(err error) bool {
	var app *temporal.ApplicationError
	return err != nil && !(errors.As(err, &app) && app.NonRetryable())
}

// errorType is the application error type of err ("" when it is none).
func errorType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return ""
}

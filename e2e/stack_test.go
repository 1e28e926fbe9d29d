// Package e2e runs smsflow whole: the real API and worker on the real Temporal dev server and
// PostgreSQL, with the carrier simulator and the fake HubSpot as the outside world.
package e2e

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"go.temporal.io/api/history/v1"

	"smsflow/api"
	"smsflow/carrier/sim"
	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/hubspot/hubspottest"
	"smsflow/internal/testenv"
	"smsflow/store"
	"smsflow/wire"
	"smsflow/workflows"
)

const (
	portal        = int64(62515)
	clientSecret  = "e2e-client-secret"
	webhookSecret = "e2e-webhook-secret"
)

// stack is one whole smsflow with its outside world.
type stack struct {
	t       *testing.T
	cfg     config.Config
	db      *store.Store
	tc      client.Client
	hubspot *hubspottest.Fake
	sim     *sim.Sim
	apiURL  string
}

type stackOptions struct {
	sim      sim.Options
	settings string            // the portal's settings JSON
	env      map[string]string // configuration overrides
	// parisNow places the run's compliance clock at this Paris wall time (see
	// activities.Config.ComplianceShift); zero: the real clock.
	parisNow time.Time
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	tc := testenv.Temporal(t)
	db, err := store.Open(ctx, testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fake := hubspottest.NewServer(t, "e2e-client-id", clientSecret)

	// The API's address must be known before the simulator and the configuration exist.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiURL := "http://" + ln.Addr().String()
	so := o.sim
	so.APIBaseURL, so.WebhookSecret = apiURL, webhookSecret
	if so.Delay == 0 {
		so.Delay = 20 * time.Millisecond
	}
	carrier := sim.New(so)
	simSrv := httptest.NewServer(carrier)
	t.Cleanup(func() { simSrv.Close(); carrier.Close() })

	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := map[string]string{
		"DATABASE_URL": os.Getenv("DATABASE_URL"), "TEMPORAL_ADDRESS": os.Getenv("TEMPORAL_ADDRESS"),
		"TEMPORAL_TASK_QUEUE": "e2e-" + testenv.RandomID(), "PUBLIC_BASE_URL": apiURL,
		"HUBSPOT_API_BASE_URL": fake.URL, "HUBSPOT_CLIENT_ID": "e2e-client-id", "HUBSPOT_CLIENT_SECRET": clientSecret,
		"TOKEN_ENCRYPTION_KEY": key, "PHONE_HASH_KEY": "e2e-phone-key",
		"HUBSPOT_TIMELINE_TEMPLATES": "SMS_SENT=1001,SMS_NOT_SENT=1002,SMS_DELIVERED=1003,SMS_NOT_DELIVERED=1004,SMS_CLICKED=1005,SMS_RESPONSE=1006,SMS_UNSUBSCRIBED=1007",
		"CARRIER_PRIMARY":            "sim", "CARRIER_SIM_URL": simSrv.URL, "CARRIER_WEBHOOK_SECRET": webhookSecret,
	}
	for k, v := range o.env {
		env[k] = v
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}

	// The portal is installed: a token in PostgreSQL (encrypted) that the fake knows.
	tokens, err := store.NewTokens(db, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Save(ctx, store.Token{PortalID: portal, Kind: "private_app", AccessToken: "e2e-token"}); err != nil {
		t.Fatal(err)
	}
	fake.AddToken(portal, "e2e-token", 24*time.Hour)
	// Installing the app creates our properties on the portal.
	if err := hubspot.NewClient(fake.URL, hubspot.StaticTokens{portal: "e2e-token"}).EnsureProperties(ctx, portal); err != nil {
		t.Fatal(err)
	}
	settings := o.settings
	if settings == "" {
		settings = `{"listen_after": "2s", "delivery_timeout": "1m"}`
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO portals (portal_id, settings) VALUES ($1, $2)
ON CONFLICT (portal_id) DO UPDATE SET settings = EXCLUDED.settings`, portal, settings); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	acts, err := wire.Activities(cfg, db, log)
	if err != nil {
		t.Fatal(err)
	}
	if !o.parisNow.IsZero() {
		acts.Config.ComplianceShift = o.parisNow.Sub(time.Now())
	}
	w := wire.Worker(tc, cfg, acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	srv := &http.Server{Handler: api.NewRouter(api.Deps{Log: log, Config: cfg, Temporal: tc, Store: db})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &stack{t: t, cfg: cfg, db: db, tc: tc, hubspot: fake, sim: carrier, apiURL: apiURL}
}

// execute plays HubSpot running the "Send SMS" action on a contact.
func (s *stack) execute(callbackID string, contactID int64, inputs map[string]string) hubspottest.ActionResponse {
	s.t.Helper()
	caller := &hubspottest.Caller{Secret: clientSecret}
	resp, err := caller.Execute(context.Background(), s.apiURL+"/hubspot/actions/sms", hubspottest.Execution{
		CallbackID: callbackID, PortalID: portal, ActionDefinitionID: 7, WorkflowID: 55, ObjectType: "CONTACT",
		ObjectID: contactID, Inputs: inputs,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return resp
}

// state asks the message's workflow where it is.
func (s *stack) state(messageID string) workflows.MessageState {
	s.t.Helper()
	v, err := s.tc.QueryWorkflow(context.Background(), workflows.SMSWorkflowID(messageID), "", workflows.QueryState)
	if err != nil {
		s.t.Fatal(err)
	}
	var st workflows.MessageState
	if err := v.Get(&st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// completion waits for HubSpot to see the action completed.
func (s *stack) completion(callbackID string) *hubspottest.Completion {
	s.t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c := s.hubspot.Completed(callbackID); c != nil {
			return c
		}
	}
	s.t.Fatalf("callback %s never completed", callbackID)
	return nil
}

// result waits for the message workflow to end and returns its result.
func (s *stack) result(messageID string) workflows.SMSResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.SMSResult
	if err := s.tc.GetWorkflow(ctx, workflows.SMSWorkflowID(messageID), "").Get(ctx, &res); err != nil {
		s.t.Fatalf("workflow of %s: %v", messageID, err)
	}
	return res
}

// history returns the run's events; with SMSFLOW_RECORD_HISTORIES=1 it also writes them to
// workflows/testdata/histories/<name>.json for the replay test.
func (s *stack) history(messageID, name string) *history.History {
	s.t.Helper()
	s.result(messageID) // the whole run: wait for it to close
	ctx := context.Background()
	it := s.tc.GetWorkflowHistory(ctx, workflows.SMSWorkflowID(messageID), "", false, 0)
	h := &history.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	if os.Getenv("SMSFLOW_RECORD_HISTORIES") == "1" {
		raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
		if err != nil {
			s.t.Fatal(err)
		}
		path := filepath.Join("..", "workflows", "testdata", "histories", name+".json")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	return h
}

// timeline lists the statuses of the timeline events HubSpot received, in arrival order.
func (s *stack) timeline() []string {
	var out []string
	for _, c := range s.hubspot.CallsTo("POST", "/crm/v3/timeline/events") {
		if c.Status >= 300 {
			continue
		}
		body := string(c.Body)
		for _, id := range []string{"1001", "1002", "1003", "1004", "1005", "1006", "1007"} {
			if strings.Contains(body, `"eventTemplateId":"`+id+`"`) {
				out = append(out, map[string]string{"1001": "SENT", "1002": "NOT_SENT", "1003": "DELIVERED", "1004": "NOT_DELIVERED",
					"1005": "CLICKED", "1006": "RESPONSE", "1007": "UNSUBSCRIBED"}[id])
			}
		}
	}
	return out
}

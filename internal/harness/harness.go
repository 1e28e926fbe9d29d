// Package harness runs one whole smsflow in the process — the real API and worker on a real
// Temporal server and PostgreSQL — with the carrier simulator and the fake HubSpot as its outside
// world. The end-to-end tests and the benchmark use it.
package harness

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"smsflow/activities"
	"smsflow/api"
	"smsflow/carrier/sim"
	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/hubspot/hubspottest"
	"smsflow/hubspotsync"
	"smsflow/metrics"
	"smsflow/payloadcodec/codectest"
	"smsflow/retention"
	"smsflow/signalbox"
	"smsflow/store"
	"smsflow/workflows"
)

// Portal is the HubSpot portal the harness installs the app on.
const Portal = int64(62515)

// Senders are the sender ids the harness's portal owns.
var Senders = []string{"ACME"}

// Secrets of the harness's outside world.
const (
	ClientSecret  = "harness-client-secret"
	WebhookSecret = "harness-webhook-secret"
	accessToken   = "harness-token"
)

// Options configure a stack.
type Options struct {
	DatabaseURL     string // an empty, reachable database
	TemporalAddress string
	TaskQueue       string
	Sim             sim.Options
	Settings        map[string]any    // the portal's settings; default: listen 2 s after completion
	Env             map[string]string // configuration overrides
	// ComplianceClock is the country-window clock (activities.Config.ComplianceClock).
	ComplianceClock activities.ComplianceClock
	Worker          worker.Options
	Log             *slog.Logger
	// SimAsTwilio reaches the simulator through the Twilio adapter (CARRIER_PRIMARY=twilio), as
	// production reaches Twilio: no lookup by our reference, so an answer lost after the
	// simulator took the message stays uncertain. The simulator signs its callbacks its own way,
	// which the Twilio webhook refuses: no status report reaches the message.
	SimAsTwilio bool
	// ExternalWorker: start no worker in the process; the test runs cmd/worker itself with
	// Stack.Env (fault tests that kill it).
	ExternalWorker bool
	// HubSpotRateLimit is the fake HubSpot's budget per portal per 10 s (hubspottest.Fake.RateLimit;
	// HubSpot's is 110); 0: no limit.
	HubSpotRateLimit int
	// ProductionSender runs the HubSpot outbox sender on its own poll intervals, as a worker does
	// (the benchmarks); false: every 20 ms, so that tests see the writes soon.
	ProductionSender bool
	// Signals tunes the sweeper delivering stored inbound events (defaults: signalbox.Options).
	Signals signalbox.Options
}

// Stack is a running smsflow.
type Stack struct {
	Config config.Config
	// productionSender: Options.ProductionSender.
	productionSender bool
	// Env is the environment Config was read from: a worker process started with it (and
	// SMSFLOW_ENV=development: the harness's secrets are published ones) joins this stack.
	Env     map[string]string
	DB      *store.Store
	HubSpot *hubspottest.Fake
	Sim     *sim.Sim
	APIURL  string
	// WorkerMetricsURL is the in-process worker's /metrics (empty with ExternalWorker); the API's
	// is APIURL+"/metrics". Both serve the process's one registry (smsflow/metrics).
	WorkerMetricsURL string
	closers          []func()
}

// PayloadKeys are the stack's PAYLOAD_KEYS: the tests' key, which the recorded histories of
// workflows/testdata/histories are encrypted with. The client given to Start must encode with
// them (testenv.Temporal and codectest.ClientOptions do).
const PayloadKeys = codectest.Keys

// Start brings a stack up; Close takes it down.
func Start(ctx context.Context, tc client.Client, o Options) (s *Stack, err error) {
	s = &Stack{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	gin.SetMode(gin.ReleaseMode) // no route dump per stack
	if s.DB, err = store.Open(ctx, o.DatabaseURL); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.DB.Close)
	if _, err = s.DB.Migrate(ctx); err != nil {
		return nil, err
	}
	s.HubSpot = hubspottest.New("harness-client-id", ClientSecret)
	s.HubSpot.RateLimit = o.HubSpotRateLimit
	s.productionSender = o.ProductionSender
	hsSrv := httptest.NewServer(s.HubSpot)
	s.HubSpot.URL = hsSrv.URL
	s.closers = append(s.closers, hsSrv.Close)

	// The API's address must be known before the simulator and the configuration exist.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.APIURL = "http://" + ln.Addr().String()
	so := o.Sim
	so.APIBaseURL, so.WebhookSecret = s.APIURL, WebhookSecret
	if so.Delay == 0 {
		so.Delay = 20 * time.Millisecond
	}
	s.Sim = sim.New(so)
	simSrv := httptest.NewServer(s.Sim)
	s.closers = append(s.closers, simSrv.Close, s.Sim.Close)

	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := map[string]string{
		"DATABASE_URL": o.DatabaseURL, "TEMPORAL_ADDRESS": o.TemporalAddress, "TEMPORAL_TASK_QUEUE": o.TaskQueue,
		"PUBLIC_BASE_URL": s.APIURL, "HUBSPOT_API_BASE_URL": s.HubSpot.URL, "HUBSPOT_CLIENT_ID": "harness-client-id",
		"HUBSPOT_CLIENT_SECRET": ClientSecret, "TOKEN_ENCRYPTION_KEY": key, "PHONE_HASH_KEY": "harness-phone-key",
		"HUBSPOT_TIMELINE_TEMPLATES": TimelineTemplates, "PAYLOAD_KEYS": PayloadKeys,
		"CARRIER_PRIMARY": "sim", "CARRIER_SIM_URL": simSrv.URL, "CARRIER_WEBHOOK_SECRET": WebhookSecret,
		// A worker process started with Env serves its metrics on a free port, never a taken one.
		"METRICS_ADDR": "127.0.0.1:0",
		// Held messages wake at the exact openings the tests wait for; a stack that measures the
		// spread (a benchmark) sets WAKE_SPREAD in Options.Env.
		"WAKE_SPREAD": "0s",
	}
	if o.SimAsTwilio {
		env["CARRIER_PRIMARY"], env["TWILIO_BASE_URL"] = "twilio", simSrv.URL
		env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"] = "ACsimulator", "harness-twilio-token"
	}
	for k, v := range o.Env {
		env[k] = v
	}
	s.Env = env
	if s.Config, err = config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		return nil, err
	}
	// The signals the stack encodes itself are encrypted as tc's payloads are.
	dc, err := s.Config.PayloadDataConverter()
	if err != nil {
		return nil, err
	}

	settings := o.Settings
	if settings == nil {
		settings = map[string]any{"listen_after": "2s", "delivery_timeout": "1m"}
	}
	if err = s.InstallPortal(ctx, Portal, settings); err != nil {
		return nil, err
	}

	// As cmd/worker and cmd/api: a portal disconnected at a token refresh has its running messages
	// (on this stack's task queue) stopped at once.
	s.DB.OnDisconnect = retention.PortalStopper{Temporal: tc, Namespace: s.Config.TemporalNamespace,
		TaskQueue: s.Config.TemporalTaskQueue}.OnDisconnect(o.Log)
	if !o.ExternalWorker {
		acts, err := activities.FromConfig(s.Config, s.DB, o.Log)
		if err != nil {
			return nil, err
		}
		acts.Config.ComplianceClock = o.ComplianceClock
		w, err := workflows.NewWorker(ctx, tc, s.Config.TemporalNamespace, s.Config.TemporalTaskQueue, o.Worker, acts)
		if err != nil {
			return nil, err
		}
		retention.Register(w, &retention.Activities{Store: s.DB, Retention: s.Config.MessageRetention, Log: o.Log})
		if err = w.Start(); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, w.Stop)
		// The worker's background loop: stored inbound events to their workflows.
		sweepCtx, stopSweeper := context.WithCancel(context.WithoutCancel(ctx))
		swept := make(chan struct{})
		sweeper := signalbox.New(s.DB, signalbox.ClientSignaller{Client: tc, Namespace: s.Config.TemporalNamespace, DataConverter: dc}, o.Log, o.Signals)
		go func() { _ = sweeper.Run(sweepCtx); close(swept) }()
		sampled := make(chan struct{})
		go func() { sweeper.SampleOwed(sweepCtx, 100*time.Millisecond); close(sampled) }()
		s.closers = append(s.closers, func() { stopSweeper(); <-swept; <-sampled })
		// The worker's /metrics, as cmd/worker serves it on METRICS_ADDR.
		metricsSrv := httptest.NewServer(metrics.NewServer("").Handler)
		s.WorkerMetricsURL = metricsSrv.URL + "/metrics"
		s.closers = append(s.closers, metricsSrv.Close)
		// And the HubSpot outbox's sender.
		if err = s.startSender(o.Log, tc); err != nil {
			return nil, err
		}
	}

	srv := &http.Server{Handler: api.NewRouter(api.Deps{Log: o.Log, Config: s.Config, Temporal: tc, DataConverter: dc, Store: s.DB})}
	go func() { _ = srv.Serve(ln) }()
	s.closers = append(s.closers, func() { _ = srv.Close() })
	return s, nil
}

// InstallPortal installs the app on a portal as Start does on Portal: a token in PostgreSQL
// (encrypted) that the fake knows, with the scopes of an install that granted timeline events, our
// properties created on its records, its settings, and the Senders as its own.
func (s *Stack) InstallPortal(ctx context.Context, portalID int64, settings map[string]any) error {
	tokens, err := store.NewTokens(s.DB, s.Env["TOKEN_ENCRYPTION_KEY"])
	if err != nil {
		return err
	}
	token := accessToken
	if portalID != Portal {
		token += "-" + strconv.FormatInt(portalID, 10)
	}
	if err = tokens.Save(ctx, store.Token{PortalID: portalID, Kind: "private_app", AccessToken: token, Scopes: harnessScopes}); err != nil {
		return err
	}
	s.HubSpot.AddToken(portalID, token, 24*time.Hour)
	if err = hubspot.NewClient(s.HubSpot.URL, hubspot.StaticTokens{portalID: token}).EnsureProperties(ctx, portalID); err != nil {
		return err
	}
	if err = s.DB.SetPortalSettings(ctx, portalID, settings); err != nil {
		return err
	}
	for _, sender := range Senders {
		if err = s.DB.AddSender(ctx, portalID, sender, false, store.SenderManual); err != nil {
			return err
		}
	}
	return nil
}

// harnessScopes are the OAuth scopes the harness's portal granted.
var harnessScopes = []string{"oauth", "automation", "timeline", "crm.objects.contacts.write"}

// startSender runs the HubSpot outbox sender as the worker does, polling often so tests see the
// writes soon.
func (s *Stack) startSender(log *slog.Logger, tc client.Client) error {
	sender, err := hubspotsync.FromConfig(s.Config, s.DB, log)
	if err != nil {
		return err
	}
	// It completes the CompleteAction activities it made the HubSpot completions of.
	sender.Temporal = tc
	if !s.productionSender {
		sender.PollInterval, sender.CompletionPoll = 20*time.Millisecond, 20*time.Millisecond
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sender.Run(ctx) }()
	s.closers = append(s.closers, func() { stop(); <-done })
	return nil
}

// HubSpotSynced waits until the HubSpot outbox has no pending row: every write queued so far
// reached the fake HubSpot (or was refused).
func (s *Stack) HubSpotSynced(ctx context.Context) error {
	for {
		var pending int
		if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM hubspot_outbox WHERE done_at IS NULL AND dead_at IS NULL`).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d HubSpot writes still queued: %w", pending, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TimelineTemplates are the template ids the harness configures, by status.
const TimelineTemplates = "SMS_SENT=1001,SMS_NOT_SENT=1002,SMS_DELIVERED=1003,SMS_NOT_DELIVERED=1004," +
	"SMS_CLICKED=1005,SMS_RESPONSE=1006,SMS_UNSUBSCRIBED=1007," +
	"VOICE_SENT=1008,VOICE_NOT_SENT=1009,VOICE_DELIVERED=1010,VOICE_NOT_DELIVERED=1011,VOICE_KEY_PRESSED=1012,VOICE_UNSUBSCRIBED=1013"

// requestedProperties are the send-sms action's objectRequestOptions (hubspot/app).
var requestedProperties = []string{"mobilephone", "phone", "firstname", "lastname", "email"}

// Close stops everything Start started, last first.
func (s *Stack) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Execute plays HubSpot running the "Send SMS" action on a record (objectType as HubSpot sends
// it: CONTACT, DEAL, …); an answer other than 200 BLOCK is an error.
func (s *Stack) Execute(ctx context.Context, callbackID, objectType string, objectID int64, inputs map[string]string) (hubspottest.ActionResponse, error) {
	resp, err := s.ExecuteAgain(ctx, callbackID, objectType, objectID, inputs)
	if err == nil && resp.State != "BLOCK" {
		err = errors.New("action not accepted: " + resp.State)
	}
	return resp, err
}

// ExecuteAgain is Execute for a callbackId HubSpot may have executed before: any 200 answer (BLOCK
// while its message runs, its outcome once it ended) is a valid one.
func (s *Stack) ExecuteAgain(ctx context.Context, callbackID, objectType string, objectID int64, inputs map[string]string) (hubspottest.ActionResponse, error) {
	return s.ExecuteAction(ctx, "sms", callbackID, objectType, objectID, inputs)
}

// ExecuteAction plays HubSpot running the action of kind (sms, voice, ivr) on a record; any 200
// answer is returned.
func (s *Stack) ExecuteAction(ctx context.Context, kind, callbackID, objectType string, objectID int64, inputs map[string]string) (hubspottest.ActionResponse, error) {
	// HubSpot sends the enrolled record's objectRequestOptions properties with the execution.
	props := map[string]string{}
	record := s.HubSpot.Object(Portal, objectType, strconv.FormatInt(objectID, 10))
	for _, name := range requestedProperties {
		if v, ok := record[name]; ok {
			props[name] = v
		}
	}
	caller := &hubspottest.Caller{Secret: ClientSecret}
	resp, err := caller.Execute(ctx, s.APIURL+"/hubspot/actions/"+kind, hubspottest.Execution{
		CallbackID: callbackID, PortalID: Portal, ActionDefinitionID: 7, WorkflowID: 55, ObjectType: objectType,
		ObjectID: objectID, Properties: props, Inputs: inputs,
	})
	if err == nil && resp.Status != 200 {
		err = errors.New("action answered " + strconv.Itoa(resp.Status))
	}
	return resp, err
}

package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"smsflow/carrier"
	"smsflow/carrier/twilio"
	"smsflow/config"
	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/store"
	"smsflow/workflows"
)

const testBase = "http://api.test"

type hookEnv struct {
	t      *testing.T
	db     *store.Store
	tc     client.Client
	router http.Handler
	cfg    config.Config
}

func newHookEnv(t *testing.T) *hookEnv {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tc := testenv.Temporal(t)
	cfg := config.Config{PublicBaseURL: testBase, Carrier: config.Carrier{Primary: "sim", Secondary: "twilio",
		WebhookSecret: "whsec", TwilioAuthToken: "tok"}}
	log := slog.New(slog.DiscardHandler)
	return &hookEnv{t: t, db: db, tc: tc, cfg: cfg, router: NewRouter(Deps{Log: log, Config: cfg, Temporal: tc, Store: db})}
}

// message records an accepted message with carrier id sid and starts a workflow with its id on a
// task queue no worker polls: it only accumulates signals in its history.
func (e *hookEnv) message(sid string) string {
	e.t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	n, err := e.db.StartAttempt(ctx, id, "sim")
	if err == nil {
		err = e.db.FinishAttempt(ctx, id, n, store.AttemptOutcome{State: store.AttemptAccepted, CarrierMessageID: sid})
	}
	if err != nil {
		e.t.Fatal(err)
	}
	wid := workflows.SMSWorkflowID(id)
	if _, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: "carriers-test-" + testenv.RandomID(),
		WorkflowRunTimeout: 10 * time.Minute}, "SignalRecorder"); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.tc.TerminateWorkflow(context.Background(), wid, "", "test over") })
	return id
}

func (e *hookEnv) post(router http.Handler, path string, form url.Values, sign func(req *http.Request, body string)) int {
	body := form.Encode()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign != nil {
		sign(req, body)
	}
	w := httptest.NewRecorder()
	router.ServeHTTP(w, req)
	return w.Code
}

func (e *hookEnv) simSigned(path string) func(*http.Request, string) {
	return func(req *http.Request, body string) {
		req.Header.Set(carrier.SignatureHeader, carrier.SignWebhook(e.cfg.Carrier.WebhookSecret, testBase+path, []byte(body), time.Now()))
	}
}

// signals lists the signals in the workflow's history, decoded as CarrierReport (name, status).
func (e *hookEnv) signals(messageID string) []string {
	e.t.Helper()
	it := e.tc.GetWorkflowHistory(context.Background(), workflows.SMSWorkflowID(messageID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []string
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			e.t.Fatal(err)
		}
		if ev.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
			continue
		}
		a := ev.GetWorkflowExecutionSignaledEventAttributes()
		switch a.GetSignalName() {
		case workflows.SignalCarrierReport:
			var r workflows.CarrierReport
			if err := converter.GetDefaultDataConverter().FromPayloads(a.GetInput(), &r); err != nil {
				e.t.Fatal(err)
			}
			out = append(out, "report:"+string(r.Status))
		case workflows.SignalReply:
			var r workflows.Reply
			if err := converter.GetDefaultDataConverter().FromPayloads(a.GetInput(), &r); err != nil {
				e.t.Fatal(err)
			}
			out = append(out, "reply:"+r.Text+map[bool]string{true: ":stop", false: ""}[r.IsStop])
		default:
			out = append(out, a.GetSignalName())
		}
	}
	return out
}

func (e *hookEnv) countEvents(q string, args ...any) int {
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func report(sid, status string) url.Values {
	return url.Values{"MessageSid": {sid}, "MessageStatus": {status}, "AccountSid": {"ACsimulator"}}
}

func TestCarrierStatusDuplicatesAndOutOfOrder(t *testing.T) {
	e := newHookEnv(t)
	id := e.message("SMdup")
	const path = "/carriers/sim/status"
	// delivered overtakes sent; each is delivered twice. Only the final report reaches the
	// workflow: sent repeats what the dispatch's answer said, so it is stored, not signalled.
	for _, st := range []string{"delivered", "sent", "delivered", "sent"} {
		if code := e.post(e.router, path, report("SMdup", st), e.simSigned(path)); code != 200 {
			t.Fatalf("%s: HTTP %d", st, code)
		}
	}
	events, err := e.db.Events(context.Background(), id)
	if err != nil || len(events) != 2 || events[0].Status != "delivered" || events[1].Status != "sent" {
		t.Fatalf("stored events %+v %v, want delivered and sent once each", events, err)
	}
	if got := e.signals(id); strings.Join(got, ",") != "report:delivered" {
		t.Fatalf("signals %v, want the delivered report once", got)
	}
	// Our id in the callback URL routes a report whose SID is not recorded yet.
	path2 := "/carriers/sim/status?mid=" + id
	if code := e.post(e.router, path2, report("SMnotyet", "undelivered"), e.simSigned(path2)); code != 200 {
		t.Fatalf("HTTP %d", code)
	}
	if got := e.signals(id); len(got) != 2 || got[1] != "report:undelivered" {
		t.Fatalf("signals %v", got)
	}
}

func TestCarrierWebhookSignatures(t *testing.T) {
	e := newHookEnv(t)
	e.message("SMsig")
	const tpath = "/carriers/twilio/status"
	form := report("SMsig", "sent")
	twilioSigned := func(req *http.Request, _ string) {
		req.Header.Set(twilio.SignatureHeader, twilio.Signature("tok", testBase+tpath, form))
	}
	if code := e.post(e.router, tpath, form, twilioSigned); code != 200 {
		t.Fatalf("good Twilio signature: HTTP %d", code)
	}
	forged := func(req *http.Request, _ string) {
		req.Header.Set(twilio.SignatureHeader, twilio.Signature("tok", testBase+tpath, report("SMsig", "queued")))
	}
	for name, tc := range map[string]struct {
		path string
		sign func(*http.Request, string)
	}{
		"twilio forged":  {tpath, forged},
		"twilio missing": {tpath, nil},
		"sim forged": {"/carriers/sim/status", func(req *http.Request, body string) {
			req.Header.Set(carrier.SignatureHeader, carrier.SignWebhook("not-the-secret", testBase+"/carriers/sim/status", []byte(body), time.Now()))
		}},
		"sim missing": {"/carriers/sim/status", nil},
		"sim inbound": {"/carriers/sim/inbound", nil},
	} {
		if code := e.post(e.router, tc.path, form, tc.sign); code != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", name, code)
		}
	}
	if n := e.countEvents(`SELECT count(*) FROM message_events`); n != 1 {
		t.Fatalf("%d events stored, want only the authenticated one", n)
	}
}

func TestCarrierReportUnknownMessageAndClosedWorkflow(t *testing.T) {
	e := newHookEnv(t)
	const path = "/carriers/sim/status"
	if code := e.post(e.router, path, report("SMunknown", "delivered"), e.simSigned(path)); code != 200 {
		t.Fatalf("unknown message: HTTP %d, want 200", code)
	}
	if n := e.countEvents(`SELECT count(*) FROM message_events WHERE source = 'sim' AND source_event_id = 'SMunknown:delivered' AND message_id IS NULL`); n != 1 {
		t.Fatalf("unknown report stored %d times", n)
	}
	id := e.message("SMclosed")
	if err := e.tc.TerminateWorkflow(context.Background(), workflows.SMSWorkflowID(id), "", "done"); err != nil {
		t.Fatal(err)
	}
	if code := e.post(e.router, path, report("SMclosed", "delivered"), e.simSigned(path)); code != 200 {
		t.Fatalf("closed workflow: HTTP %d, want 200", code)
	}
	if n := e.countEvents(`SELECT count(*) FROM message_events WHERE message_id = $1 AND signalled_at IS NOT NULL`, id); n != 1 {
		t.Fatalf("report of a closed workflow: %d stored", n)
	}
}

func TestCarrierReportTemporalUnreachable(t *testing.T) {
	e := newHookEnv(t)
	id := e.message("SMdown")
	down, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	old := signalTimeout
	signalTimeout = 300 * time.Millisecond
	defer func() { signalTimeout = old }()
	broken := NewRouter(Deps{Log: slog.New(slog.DiscardHandler), Config: e.cfg, Temporal: down, Store: e.db})
	const path = "/carriers/sim/status"
	if code := e.post(broken, path, report("SMdown", "delivered"), e.simSigned(path)); code != http.StatusServiceUnavailable {
		t.Fatalf("Temporal down: HTTP %d, want 503", code)
	}
	if got := e.signals(id); len(got) != 0 {
		t.Fatalf("signals %v", got)
	}
	// The carrier retries once Temporal is back: the stored event is signalled then, once.
	for range 2 {
		if code := e.post(e.router, path, report("SMdown", "delivered"), e.simSigned(path)); code != 200 {
			t.Fatalf("retry: HTTP %d", code)
		}
	}
	if got := e.signals(id); strings.Join(got, ",") != "report:delivered" {
		t.Fatalf("signals %v, want the report once", got)
	}
}

func TestInboundReplyRoutedToLatestMessage(t *testing.T) {
	e := newHookEnv(t)
	ctx := context.Background()
	older, latest := e.message("SMold"), e.message("SMnew")
	for i, id := range []string{older, latest} {
		sent := time.Now().Add(time.Duration(i-2) * time.Minute)
		if err := e.db.SaveMessage(ctx, store.Message{ID: id, PortalID: 62515, ObjectType: "contact", ObjectID: "1",
			Phone: "+33612345678", Sender: "+15005550006", Status: string(outcome.SMSSent), SentAt: &sent}); err != nil {
			t.Fatal(err)
		}
	}
	const path = "/carriers/sim/inbound"
	in := url.Values{"MessageSid": {"SMreply1"}, "From": {"+33612345678"}, "To": {"+15005550006"}, "Body": {"Stop"}}
	for range 2 {
		if code := e.post(e.router, path, in, e.simSigned(path)); code != 200 {
			t.Fatalf("HTTP %d", code)
		}
	}
	if got := e.signals(latest); strings.Join(got, ",") != "reply:Stop:stop" {
		t.Fatalf("latest message signals %v, want one STOP reply", got)
	}
	if got := e.signals(older); len(got) != 0 {
		t.Fatalf("older message got %v", got)
	}
}

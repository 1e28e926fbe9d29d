package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"smsflow/carrier"
	"smsflow/carrier/twilio"
	"smsflow/config"
	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/payloadcodec/codectest"
	"smsflow/signalbox"
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
	db := testenv.Store(t)
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
			if err := codectest.DataConverter().FromPayloads(a.GetInput(), &r); err != nil {
				e.t.Fatal(err)
			}
			out = append(out, "report:"+string(r.Status))
		case workflows.SignalReply:
			var r workflows.Reply
			if err := codectest.DataConverter().FromPayloads(a.GetInput(), &r); err != nil {
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

// brokenRouter is the API with Temporal unreachable.
func (e *hookEnv) brokenRouter() http.Handler {
	e.t.Helper()
	down, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(down.Close)
	old := fastSignalTimeout
	fastSignalTimeout = 300 * time.Millisecond
	defer func() { fastSignalTimeout = old }()
	return NewRouter(Deps{Log: slog.New(slog.DiscardHandler), Config: e.cfg, Temporal: down, Store: e.db})
}

// sweep delivers what is owed as the worker's sweeper does, once the backoff of a failed try is over.
func (e *hookEnv) sweep() {
	e.t.Helper()
	if _, err := e.db.Pool.Exec(context.Background(), `UPDATE message_events SET signal_due_at = now() WHERE signalled_at IS NULL`); err != nil {
		e.t.Fatal(err)
	}
	if _, err := signalbox.New(e.db, signalbox.ClientSignaller{Client: e.tc}, slog.New(slog.DiscardHandler), signalbox.Options{}).Sweep(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// With Temporal unreachable a report is answered 200 once stored: it waits in the outbox, and
// the sweeper delivers it once; a carrier's retry afterwards signals nothing again.
func TestCarrierReportTemporalUnreachable(t *testing.T) {
	e := newHookEnv(t)
	id := e.message("SMdown")
	broken := e.brokenRouter()
	const path = "/carriers/sim/status"
	start := time.Now()
	if code := e.post(broken, path, report("SMdown", "delivered"), e.simSigned(path)); code != http.StatusOK {
		t.Fatalf("Temporal down: HTTP %d, want 200 (the report is stored)", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the webhook took %v with Temporal down", d)
	}
	if got := e.signals(id); len(got) != 0 {
		t.Fatalf("signals %v", got)
	}
	if n, err := e.db.OwedSignals(context.Background()); err != nil || n != 1 {
		t.Fatalf("owed signals = %d %v, want the report pending in the outbox", n, err)
	}
	e.sweep()
	for range 2 {
		if code := e.post(e.router, path, report("SMdown", "delivered"), e.simSigned(path)); code != 200 {
			t.Fatalf("retry: HTTP %d", code)
		}
	}
	e.sweep()
	if got := e.signals(id); strings.Join(got, ",") != "report:delivered" {
		t.Fatalf("signals %v, want the report once", got)
	}
}

// More final reports than the cap: all stored, the first maxReportSignals signalled.
func TestCarrierReportsCapped(t *testing.T) {
	e := newHookEnv(t)
	id := e.message("SMcap")
	const path = "/carriers/sim/status"
	for i := range maxReportSignals + 5 {
		form := report("SMcap", "undelivered")
		form.Set("ErrorCode", strconv.Itoa(30000+i)) // a distinct carrier event each
		if code := e.post(e.router, path, form, e.simSigned(path)); code != 200 {
			t.Fatalf("report %d: HTTP %d", i, code)
		}
	}
	if n := e.countEvents(`SELECT count(*) FROM message_events WHERE message_id = $1`, id); n != maxReportSignals+5 {
		t.Fatalf("%d reports stored, want %d", n, maxReportSignals+5)
	}
	if got := e.signals(id); len(got) != maxReportSignals {
		t.Fatalf("%d signals, want the cap %d", len(got), maxReportSignals)
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
	h, err := e.db.SuppressionHistory(ctx, 62515, "sms", "+33612345678")
	if err != nil || len(h) != 1 || h[0].Source != store.SourceStopReply || h[0].Keyword != "STOP" || h[0].MessageID == nil || *h[0].MessageID != latest {
		t.Fatalf("history = %+v %v, want one STOP of the latest message", h, err)
	}
}

// A STOP is effective when stored: with Temporal unreachable, and to a number we never wrote to
// from that portal's number, the webhook itself suppresses; START re-subscribes, keeping both in
// the history.
func TestStopEffectiveWhateverTheWorkflow(t *testing.T) {
	e := newHookEnv(t)
	ctx := context.Background()
	broken := e.brokenRouter()
	id := e.message("SMstopdown")
	sent := time.Now()
	if err := e.db.SaveMessage(ctx, store.Message{ID: id, PortalID: 62515, ObjectType: "contact", ObjectID: "1",
		Phone: "+33612345611", Sender: "+15005550006", Status: string(outcome.SMSSent), SentAt: &sent}); err != nil {
		t.Fatal(err)
	}
	const path = "/carriers/sim/inbound"
	for _, r := range []struct{ sid, from, body string }{
		{"SMs1", "+33612345611", "ARRÊT"}, // a running workflow, Temporal down
		{"SMs2", "+33612345612", "stop"},  // nobody we wrote to, on the portal's number
		{"SMs3", "+33612345611", "START"}, // back in
		{"SMs4", "+33612345613", "STOP"},  // to a number nobody sends from
	} {
		in := url.Values{"MessageSid": {r.sid}, "From": {r.from}, "To": {"+15005550006"}, "Body": {r.body}}
		if r.sid == "SMs4" {
			in.Set("To", "+15005550099")
		}
		if code := e.post(broken, path, in, e.simSigned(path)); code != 200 {
			t.Fatalf("%s: HTTP %d", r.sid, code)
		}
		if r.sid == "SMs1" {
			if off, reason, _ := e.db.Suppressed(ctx, 62515, "sms", "+33612345611"); !off || reason != store.SourceStopReply {
				t.Fatal("STOP with Temporal down did not suppress at once")
			}
		}
	}
	if off, _, _ := e.db.Suppressed(ctx, 62515, "sms", "+33612345611"); off {
		t.Fatal("START did not re-subscribe")
	}
	if off, _, _ := e.db.Suppressed(ctx, 62515, "sms", "+33612345612"); !off {
		t.Fatal("a STOP answering no message was not suppressed for the number's portal")
	}
	h, _ := e.db.SuppressionHistory(ctx, 62515, "sms", "+33612345611")
	if len(h) != 2 || h[0].Keyword != "ARRÊT" || h[1].Action != store.OptIn {
		t.Fatalf("history = %+v, want the STOP and the START", h)
	}
	if n := e.countEvents(`SELECT count(*) FROM message_events WHERE source_event_id = 'SMs4' AND portal_id IS NULL AND message_id IS NULL`); n != 1 {
		t.Fatalf("unrouted STOP stored %d times", n)
	}
	if n := e.countEvents(`SELECT count(*) FROM suppressions`); n != 1 {
		t.Fatalf("%d suppressions, want only +33612345612's", n)
	}
}

// A reply reaches only the portal that sent from the receiving number, never another portal's
// later message to the same person; on a number two portals share, it reaches the latest message
// sent from that number, and its STOP suppresses for that portal only.
func TestReplyNotRoutedAcrossPortals(t *testing.T) {
	e := newHookEnv(t)
	ctx := context.Background()
	const phone = "+33612345621"
	mine, theirs, sharedA, sharedB := e.message("SMmine"), e.message("SMtheirs"), e.message("SMsa"), e.message("SMsb")
	for i, m := range []struct {
		id, sender string
		portal     int64
	}{{mine, "+15005550006", 62515}, {theirs, "+15005550007", 777}, {sharedA, "+15005550008", 62515}, {sharedB, "+15005550008", 777}} {
		sent := time.Now().Add(time.Duration(i-5) * time.Minute) // theirs is later than mine
		if err := e.db.SaveMessage(ctx, store.Message{ID: m.id, PortalID: m.portal, ObjectType: "contact", ObjectID: "1", Phone: phone,
			Sender: m.sender, Status: string(outcome.SMSSent), SentAt: &sent}); err != nil {
			t.Fatal(err)
		}
	}
	const path = "/carriers/sim/inbound"
	post := func(sid, to, body string) {
		in := url.Values{"MessageSid": {sid}, "From": {phone}, "To": {to}, "Body": {body}}
		if code := e.post(e.router, path, in, e.simSigned(path)); code != 200 {
			t.Fatalf("%s: HTTP %d", sid, code)
		}
	}
	post("SMr1", "+15005550006", "Yes please")
	post("SMr2", "+15005550008", "STOP")
	if got := e.signals(mine); strings.Join(got, ",") != "reply:Yes please" {
		t.Fatalf("the sending portal's message got %v", got)
	}
	for _, id := range []string{theirs, sharedA} {
		if got := e.signals(id); len(got) != 0 {
			t.Fatalf("message %s got %v", id, got)
		}
	}
	if got := e.signals(sharedB); len(got) != 1 || !strings.Contains(got[0], "STOP") {
		t.Fatalf("the latest message from the shared number got %v, want the STOP", got)
	}
	if n := e.countEvents(`SELECT count(*) FROM suppressions WHERE portal_id = 777`); n != 1 {
		t.Fatal("the STOP on the shared number did not suppress for the portal that sent last from it")
	}
	if n := e.countEvents(`SELECT count(*) FROM suppressions WHERE portal_id <> 777`); n != 0 {
		t.Fatal("a STOP on a shared number suppressed for another portal")
	}
}

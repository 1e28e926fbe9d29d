package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"smsflow/api"
	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/hubspot/app"
	"smsflow/hubspot/hubspottest"
	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/store"
	"smsflow/workflows"
)

const actionSecret = "app-client-secret"

// recordingTemporal stands for the Temporal client where a test only needs to see what the
// handler starts.
type recordingTemporal struct {
	client.Client
	mu     sync.Mutex
	starts []client.StartWorkflowOptions
	reqs   []workflows.SMSRequest
}

func (r *recordingTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if wf != workflows.SendSMSName || len(args) != 1 {
		return nil, fmt.Errorf("unexpected start of %v with %d args", wf, len(args))
	}
	r.starts = append(r.starts, o)
	r.reqs = append(r.reqs, args[0].(workflows.SMSRequest))
	return nil, nil
}

func (r *recordingTemporal) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.starts) }

// actionServer serves the API on a local port whose URL is also PUBLIC_BASE_URL, unless public
// is given (a proxy in front).
func actionServer(t *testing.T, tc client.Client, queue, public string) (*httptest.Server, string) {
	t.Helper()
	cfg := config.Config{TemporalTaskQueue: queue, HubSpot: config.HubSpot{ClientSecret: actionSecret}}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg.PublicBaseURL = srv.URL
	if public != "" {
		cfg.PublicBaseURL = public
	}
	h = api.NewRouter(api.Deps{Log: slog.New(slog.DiscardHandler), Config: cfg, Temporal: tc, Ready: map[string]api.Check{}})
	return srv, cfg.PublicBaseURL
}

func execution(cb string, inputs map[string]string) hubspottest.Execution {
	in := map[string]string{"country": "FR", "sender": "MyShop", "message_type": "marketing", "message": "Bonjour {{contact.firstname}}"}
	for k, v := range inputs {
		in[k] = v
	}
	return hubspottest.Execution{CallbackID: cb, PortalID: 62515, ActionDefinitionID: 10646377, WorkflowID: 192814114,
		ObjectType: "CONTACT", ObjectID: 904, Properties: map[string]string{"mobilephone": "+33612345678"}, Inputs: in}
}

type actionAnswer struct {
	status  int
	outputs map[string]string
}

func post(t *testing.T, req *http.Request) actionAnswer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var b struct {
		Outputs map[string]string `json:"outputFields"`
	}
	_ = json.Unmarshal(body, &b)
	return actionAnswer{resp.StatusCode, b.Outputs}
}

func signed(t *testing.T, url, signURL, secret string, body []byte, at time.Time) *http.Request {
	t.Helper()
	req, err := hubspottest.SignedRequest(context.Background(), secret, signURL, body, at)
	if err != nil {
		t.Fatal(err)
	}
	req.URL, _ = req.URL.Parse(url)
	return req
}

func TestActionSignatures(t *testing.T) {
	rt := &recordingTemporal{}
	srv, _ := actionServer(t, rt, "q", "")
	url := srv.URL + "/hubspot/actions/sms"
	body := execution("ap-sig", nil).Body()
	now := time.Now()
	onlyV2 := func(r *http.Request) *http.Request { r.Header.Del(hubspot.HeaderSignatureV3); return r }
	onlyV3 := func(r *http.Request) *http.Request {
		r.Header.Del(hubspot.HeaderSignature)
		r.Header.Del(hubspot.HeaderSignatureVersion)
		return r
	}
	changed := func(r *http.Request) *http.Request {
		b := bytes.Replace(body, []byte("ap-sig"), []byte("ap-sig2"), 1)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		return r
	}
	for _, tc := range []struct {
		name string
		req  *http.Request
		want int
	}{
		{"v3", onlyV3(signed(t, url, url, actionSecret, body, now)), 200},
		{"v2", onlyV2(signed(t, url, url, actionSecret, body, now)), 200},
		{"v3 wrong secret", onlyV3(signed(t, url, url, "wrong", body, now)), 401},
		{"v2 wrong secret", onlyV2(signed(t, url, url, "wrong", body, now)), 401},
		{"v3 changed body", changed(onlyV3(signed(t, url, url, actionSecret, body, now))), 401},
		{"v2 changed body", changed(onlyV2(signed(t, url, url, actionSecret, body, now))), 401},
		{"v3 stale", onlyV3(signed(t, url, url, actionSecret, body, now.Add(-6*time.Minute))), 401},
		{"v3 other URL", onlyV3(signed(t, url, strings.Replace(url, "http://", "https://", 1), actionSecret, body, now)), 401},
		{"v2 other URL", onlyV2(signed(t, url, url+"?x=1", actionSecret, body, now)), 401},
		{"missing", onlyV2(onlyV3(signed(t, url, url, actionSecret, body, now))), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rt.count()
			got := post(t, tc.req)
			if got.status != tc.want {
				t.Fatalf("status %d, want %d", got.status, tc.want)
			}
			started := rt.count() - before
			if tc.want == 401 && started != 0 || tc.want == 200 && (started != 1 || got.outputs["hs_execution_state"] != "BLOCK") {
				t.Fatalf("started %d workflows, answer %v", started, got.outputs)
			}
		})
	}
}

// Behind a proxy HubSpot signs the public URL, not the one the API listens on.
func TestActionSignatureBehindProxy(t *testing.T) {
	rt := &recordingTemporal{}
	srv, public := actionServer(t, rt, "q", "https://sms.example.com")
	body := execution("ap-proxy", nil).Body()
	if got := post(t, signed(t, srv.URL+"/hubspot/actions/sms?v=1", public+"/hubspot/actions/sms?v=1", actionSecret, body, time.Now())); got.status != 200 {
		t.Fatalf("signed for the public URL: %d", got.status)
	}
	if got := post(t, signed(t, srv.URL+"/hubspot/actions/sms", srv.URL+"/hubspot/actions/sms", actionSecret, body, time.Now())); got.status != 401 {
		t.Fatalf("signed for the internal URL: %d", got.status)
	}
}

func TestActionParsesLenientlyAndFillsTheRequest(t *testing.T) {
	rt := &recordingTemporal{}
	srv, _ := actionServer(t, rt, "sms-queue", "")
	url := srv.URL + "/hubspot/actions/sms"
	// ids as strings, inputs as numbers and booleans
	body := []byte(`{"callbackId":"ap-lenient","origin":{"portalId":"62515","actionDefinitionId":10646377,"actionDefinitionVersion":1},
	"context":{"source":"WORKFLOWS","workflowId":"192814114"},"object":{"objectId":"77","objectType":"DEAL","properties":{"phone":null}},
	"inputFields":{"country":"fr","sender":33612345678,"message_type":"Transactional","message":"Hi","allow_unicode":true,"add_stop":"false",
	"shorten_urls":"yes","utm_source":"hubspot","send_at":"1796200000000","wait_for":"delivery","wait_hours":48,"unused":{"a":1}}}`)
	got := post(t, signed(t, url, url, actionSecret, body, time.Now()))
	if got.status != 200 || got.outputs["hs_execution_state"] != "BLOCK" || got.outputs["hs_expiration_duration"] == "" {
		t.Fatalf("answer %d %v", got.status, got.outputs)
	}
	if rt.count() != 1 {
		t.Fatalf("%d starts", rt.count())
	}
	o, r := rt.starts[0], rt.reqs[0]
	wantID := workflows.SMSWorkflowID(workflows.MessageIDForCallback(62515, "ap-lenient"))
	if o.ID != wantID || o.TaskQueue != "sms-queue" || o.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE ||
		o.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
		t.Fatalf("start options %+v", o)
	}
	if v, ok := o.TypedSearchAttributes.GetKeyword(workflows.PortalIDKey); !ok || v != "62515" {
		t.Fatalf("SmsPortalId = %q", v)
	}
	if v, _ := o.TypedSearchAttributes.GetKeyword(workflows.RecordIDKey); v != "deal:77" {
		t.Fatalf("SmsRecordId = %q", v)
	}
	i := r.Inputs
	if r.MessageID != workflows.MessageIDForCallback(62515, "ap-lenient") || r.CallbackID != "ap-lenient" || r.PortalID != 62515 ||
		r.ActionDefinitionID != "10646377" || r.HubSpotWorkflowID != "192814114" || r.ObjectType != "deal" || r.ObjectID != "77" {
		t.Fatalf("request %+v", r)
	}
	if i.Country != "FR" || i.Sender != "33612345678" || i.MessageType != "transactional" || !i.AllowUnicode || i.AddStop || !i.ShortenURLs ||
		i.UTM["utm_source"] != "hubspot" || i.CampaignName != "HUBSPOT_SMS_WORKFLOW_192814114" || i.WaitFor != "delivery" || i.WaitHours != 48 ||
		i.SendAt == nil || !i.SendAt.Equal(time.UnixMilli(1796200000000)) || i.Message != "Hi" {
		t.Fatalf("inputs %+v", i)
	}
}

func TestExpirationFollowsWaitFor(t *testing.T) {
	rt := &recordingTemporal{}
	srv, _ := actionServer(t, rt, "q", "")
	url := srv.URL + "/hubspot/actions/sms"
	for _, tc := range []struct {
		inputs map[string]string
		want   string
	}{
		{map[string]string{"wait_for": "none"}, "P3D"},                         // the hold margin only
		{map[string]string{"wait_for": "delivery", "wait_hours": "48"}, "P5D"}, // margin + 48 h
		{map[string]string{"wait_for": "reply"}, "P4D"},                        // wait_hours defaults to 24
		{map[string]string{"wait_for": "click", "wait_hours": "5"}, "P3DT5H"},
	} {
		got := post(t, signed(t, url, url, actionSecret, execution("ap-exp-"+tc.want, tc.inputs).Body(), time.Now()))
		if got.status != 200 || got.outputs["hs_expiration_duration"] != tc.want {
			t.Errorf("%v: %d %v, want %s", tc.inputs, got.status, got.outputs, tc.want)
		}
	}
}

func TestInvalidInputsFailContinue(t *testing.T) {
	rt := &recordingTemporal{}
	srv, _ := actionServer(t, rt, "q", "")
	url := srv.URL + "/hubspot/actions/sms"
	cases := []struct {
		inputs map[string]string
		code   string
	}{
		{map[string]string{"sender": "TooLongSender1"}, "INVALID_SENDER"},
		{map[string]string{"sender": "My Shop"}, "INVALID_SENDER"},
		{map[string]string{"sender": "Café"}, "INVALID_SENDER"},
		{map[string]string{"sender": "1234567890123456"}, "INVALID_SENDER"},
		{map[string]string{"country": "FRA"}, "INVALID_COUNTRY"},
		{map[string]string{"country": "XX"}, "INVALID_COUNTRY"},
		{map[string]string{"message_type": "promo"}, "INVALID_MESSAGE_TYPE"},
		{map[string]string{"message": "  "}, "MISSING_MESSAGE"},
		{map[string]string{"allow_unicode": "maybe"}, "INVALID_BOOLEAN"},
		{map[string]string{"shorten_urls": "2"}, "INVALID_BOOLEAN"},
		{map[string]string{"send_at": "next tuesday"}, "INVALID_SEND_AT"},
		{map[string]string{"send_at": "2099-01-01T00:00:00Z"}, "INVALID_SEND_AT"},
		{map[string]string{"wait_for": "forever"}, "INVALID_WAIT_FOR"},
		{map[string]string{"wait_for": "delivery", "wait_hours": "-1"}, "INVALID_WAIT_HOURS"},
		{map[string]string{"wait_for": "delivery", "wait_hours": "1.5"}, "INVALID_WAIT_HOURS"},
		{map[string]string{"wait_for": "delivery", "wait_hours": "100000"}, "INVALID_WAIT_HOURS"},
		{map[string]string{"phone_property": "Mobile Phone"}, "INVALID_PHONE_PROPERTY"},
	}
	for _, tc := range cases {
		t.Run(tc.code+"/"+fmt.Sprint(tc.inputs), func(t *testing.T) {
			got := post(t, signed(t, url, url, actionSecret, execution("ap-invalid", tc.inputs).Body(), time.Now()))
			if got.status != 200 || got.outputs["hs_execution_state"] != "FAIL_CONTINUE" || got.outputs["error_code"] != tc.code || len(got.outputs["error_message"]) < 10 {
				t.Fatalf("answer %d %v, want FAIL_CONTINUE %s with a message", got.status, got.outputs, tc.code)
			}
		})
	}
	if rt.count() != 0 {
		t.Fatalf("invalid inputs started %d workflows", rt.count())
	}
	// Every code has an execution rule, so HubSpot's workflow history shows a readable reason.
	def, err := app.Action("sms", "https://x")
	if err != nil {
		t.Fatal(err)
	}
	ruled := map[string]bool{}
	for _, r := range def["executionRules"].([]any) {
		switch v := r.(map[string]any)["conditions"].(map[string]any)["error_code"].(type) {
		case string:
			ruled[v] = true
		case []any:
			for _, c := range v {
				ruled[c.(string)] = true
			}
		}
	}
	for _, tc := range cases {
		if !ruled[tc.code] {
			t.Errorf("no execution rule for %s", tc.code)
		}
	}
	// Valid edge cases: an 11-character alphanumeric sender, a 15-digit one.
	for _, s := range []string{"ABCDEFGHIJ1", "123456789012345"} {
		if got := post(t, signed(t, url, url, actionSecret, execution("ap-ok-"+s, map[string]string{"sender": s}).Body(), time.Now())); got.outputs["hs_execution_state"] != "BLOCK" {
			t.Errorf("sender %s: %v", s, got.outputs)
		}
	}
}

func TestMalformedActions(t *testing.T) {
	rt := &recordingTemporal{}
	srv, _ := actionServer(t, rt, "q", "")
	url := srv.URL + "/hubspot/actions/sms"
	for _, body := range []string{`{"callbackId":`, `[]`, `{"callbackId":"ap-1","origin":{"portalId":"x"},"object":{"objectId":1}}`, `{"origin":{"portalId":1},"object":{"objectId":1}}`} {
		if got := post(t, signed(t, url, url, actionSecret, []byte(body), time.Now())); got.status != 400 {
			t.Errorf("%s: %d, want 400", body, got.status)
		}
	}
	for _, ch := range []string{"voice", "ivr"} { // malformed executions of the call actions too
		u := srv.URL + "/hubspot/actions/" + ch
		if got := post(t, signed(t, u, u, actionSecret, []byte(`{"callbackId":"ap-1"}`), time.Now())); got.status != 400 {
			t.Errorf("%s: %d, want 400", ch, got.status)
		}
	}
	if rt.count() != 0 {
		t.Fatalf("%d starts", rt.count())
	}
}

// With Temporal unreachable no workflow holds the message: 503, so HubSpot retries.
func TestTemporalDownAnswers503(t *testing.T) {
	defer api.SetWorkflowStartTimeout(time.Second)()
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	srv, _ := actionServer(t, tc, "q", "")
	url := srv.URL + "/hubspot/actions/sms"
	got := post(t, signed(t, url, url, actionSecret, execution("ap-down", nil).Body(), time.Now()))
	if got.status != http.StatusServiceUnavailable || got.outputs["hs_execution_state"] == "BLOCK" {
		t.Fatalf("answer %d %v, want 503", got.status, got.outputs)
	}
	// HubSpot's side: a 503 is retried, never taken as done.
	caller := &hubspottest.Caller{Secret: actionSecret, MaxAttempts: 2}
	res, err := caller.Execute(context.Background(), url, execution("ap-down", nil))
	if err != nil || res.State != "RETRYING" || res.Attempts != 2 || res.Status != 503 {
		t.Fatalf("caller: %+v, %v", res, err)
	}
}

// The same callbackId delivered five times, and again after the run closed, is one workflow run.
func TestIdempotentStartOnDevServer(t *testing.T) {
	c := testenv.Temporal(t)
	queue := "test-hubspot-" + testenv.RandomID()
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, req workflows.SMSRequest) (workflows.SMSResult, error) {
		// Held open until the test releases it, so the retries arrive while it runs.
		workflow.GetSignalChannel(ctx, "release").Receive(ctx, nil)
		return workflows.SMSResult{Status: outcome.SMSSent, MessageID: req.MessageID}, nil
	}, workflow.RegisterOptions{Name: workflows.SendSMSName})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	srv, _ := actionServer(t, c, queue, "")
	url := srv.URL + "/hubspot/actions/sms"
	cb := "ap-idem-" + testenv.RandomID()
	wfID := workflows.SMSWorkflowID(workflows.MessageIDForCallback(62515, cb))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	caller := &hubspottest.Caller{Secret: actionSecret}
	var wg sync.WaitGroup
	for range 5 { // HubSpot retries may overlap
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := caller.Execute(ctx, url, execution(cb, nil))
			if err != nil || res.State != "BLOCK" {
				t.Errorf("delivery: %+v, %v", res, err)
			}
		}()
	}
	wg.Wait()
	first, err := c.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		t.Fatal(err)
	}
	runID := first.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	fields := first.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	if _, ok := fields["SmsPortalId"]; !ok {
		t.Errorf("SmsPortalId not set at start (have %d attributes)", len(fields))
	}
	if err := c.SignalWorkflow(ctx, wfID, runID, "release", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.GetWorkflow(ctx, wfID, runID).Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// After the run closed: Temporal's default (ALLOW_DUPLICATE) would start a second run here.
	// Without a message log (no database here) the answer says the outcome is not recorded.
	res, err := caller.Execute(ctx, url, execution(cb, nil))
	if err != nil || res.State != "FAIL_CONTINUE" || res.Outputs["error_code"] != string(outcome.OutcomeNotRecorded) {
		t.Fatalf("delivery after close: %+v, %v", res, err)
	}
	last, err := c.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := last.GetWorkflowExecutionInfo().GetExecution().GetRunId(); got != runID ||
		last.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("latest run %s (%v), want the first run %s, completed", got, last.GetWorkflowExecutionInfo().GetStatus(), runID)
	}
	starts := 0
	iter := c.GetWorkflowHistory(ctx, wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED {
			starts++
		}
	}
	if starts != 1 {
		t.Fatalf("%d starts in the history", starts)
	}
}

// HubSpot repeating a callbackId: BLOCK while the message runs (one workflow), the recorded
// outputs once its action was completed, and the message log's outcome once its workflow closed
// or Temporal forgot it — never a new BLOCK that nothing would complete, never a second message.
func TestRepeatedCallbackAnsweredWithItsOutcome(t *testing.T) {
	c := testenv.Temporal(t)
	db, err := store.Open(context.Background(), testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	queue := "test-repeat-" + testenv.RandomID()
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, req workflows.SMSRequest) (workflows.SMSResult, error) {
		workflow.GetSignalChannel(ctx, "release").Receive(ctx, nil)
		return workflows.SMSResult{MessageID: req.MessageID}, nil
	}, workflow.RegisterOptions{Name: workflows.SendSMSName})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cfg := config.Config{TemporalTaskQueue: queue, HubSpot: config.HubSpot{ClientSecret: actionSecret}}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	cfg.PublicBaseURL = srv.URL
	h = api.NewRouter(api.Deps{Log: slog.New(slog.DiscardHandler), Config: cfg, Temporal: c, Store: db, Ready: map[string]api.Check{}})
	url := srv.URL + "/hubspot/actions/sms"
	caller := &hubspottest.Caller{Secret: actionSecret}
	execute := func(cb string) hubspottest.ActionResponse {
		t.Helper()
		res, err := caller.Execute(ctx, url, execution(cb, nil))
		if err != nil || res.Status != 200 {
			t.Fatalf("execute %s: %+v, %v", cb, res, err)
		}
		return res
	}
	runs := func(cb string) int {
		t.Helper()
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = '%s'", workflows.SMSWorkflowID(workflows.MessageIDForCallback(62515, cb)))})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetExecutions())
	}
	save := func(cb, status string, code outcome.Code) string {
		t.Helper()
		id := workflows.MessageIDForCallback(62515, cb)
		if err := db.SaveMessage(ctx, store.Message{ID: id, PortalID: 62515, ObjectType: "contact", ObjectID: "904", Status: status,
			ErrorCode: string(code), ErrorMessage: "reason", Campaign: "C1", Segments: 1, Encoding: "GSM7", CallbackID: cb}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	release := func(cb string) {
		t.Helper()
		id := workflows.SMSWorkflowID(workflows.MessageIDForCallback(62515, cb))
		if err := c.SignalWorkflow(ctx, id, "", "release", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}

	// Running, its message being prepared: BLOCK again, one run.
	cb := "ap-repeat-" + testenv.RandomID()
	if res := execute(cb); res.State != "BLOCK" {
		t.Fatalf("first execution: %+v", res)
	}
	id := save(cb, "PENDING", "")
	if res := execute(cb); res.State != "BLOCK" {
		t.Fatalf("repeated while running: %+v", res)
	}
	// Completed (wait_for met) while the workflow still listens: the recorded outputs.
	recorded := map[string]string{"hs_execution_state": "SUCCESS", "sms_status": "SMS_DELIVERED", "message_id": id, "segments": "1",
		"encoding": "GSM7", "campaign_name": "C1", "error_code": "", "error_message": ""}
	if err := db.RecordActionOutcome(ctx, id, recorded); err != nil {
		t.Fatal(err)
	}
	res := execute(cb)
	if res.State != "SUCCESS" || res.Outputs["sms_status"] != "SMS_DELIVERED" || res.Outputs["message_id"] != id || res.Outputs["segments"] != "1" {
		t.Fatalf("repeated after completion: %+v", res)
	}
	release(cb)
	if res := execute(cb); res.State != "SUCCESS" || res.Outputs["sms_status"] != "SMS_DELIVERED" {
		t.Fatalf("repeated after the run closed: %+v", res)
	}
	if n := runs(cb); n != 1 {
		t.Fatalf("%d runs for one callbackId", n)
	}

	// Closed without a recorded completion (its completion was refused, say): the message log.
	cb2 := "ap-repeat-" + testenv.RandomID()
	execute(cb2)
	save(cb2, string(outcome.SMSNotSent), outcome.OptedOut)
	release(cb2)
	res = execute(cb2)
	if res.State != "FAIL_CONTINUE" || res.Outputs["sms_status"] != string(outcome.SMSNotSent) || res.Outputs["error_code"] != string(outcome.OptedOut) {
		t.Fatalf("repeated after a NOT_SENT run: %+v", res)
	}

	// Temporal no longer knows the run (past its retention), the message log does: its outcome,
	// and no second message.
	cb3 := "ap-repeat-" + testenv.RandomID()
	save(cb3, string(outcome.SMSSent), "")
	res = execute(cb3)
	if res.State != "SUCCESS" || res.Outputs["sms_status"] != string(outcome.SMSSent) {
		t.Fatalf("repeated past retention: %+v", res)
	}
	if n := runs(cb3); n != 0 {
		t.Fatalf("a repeated execution started %d workflows", n)
	}
}

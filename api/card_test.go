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

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"smsflow/api"
	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/store"
	"smsflow/workflows"
)

// cardServer serves the API with a database, as the card reaches it.
func cardServer(t *testing.T, tc client.Client, db *store.Store, queue string) *httptest.Server {
	t.Helper()
	cfg := config.Config{TemporalTaskQueue: queue, HubSpot: config.HubSpot{ClientSecret: actionSecret}}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg.PublicBaseURL = srv.URL
	h = api.NewRouter(api.Deps{Log: slog.New(slog.DiscardHandler), Config: cfg, Temporal: tc, Store: db, Ready: map[string]api.Check{}})
	return srv
}

// cardRequest is a request as hubspot.fetch sends it: the account and user added to the URL,
// signed with v3 (and the older forms) under secret at the given time.
type cardRequest struct {
	method, path string
	portal       string // the portalId query value; "" for none
	body         any
	secret       string
	at           time.Time
	tamper       func(*http.Request)
}

func (cr cardRequest) do(t *testing.T, srv *httptest.Server) (int, []byte) {
	t.Helper()
	var body []byte
	if cr.body != nil {
		var err error
		if body, err = json.Marshal(cr.body); err != nil {
			t.Fatal(err)
		}
	}
	u := srv.URL + cr.path
	if cr.portal != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "userId=7&userEmail=rep%40example.com&appId=1&portalId=" + cr.portal
	}
	req, err := http.NewRequest(cr.method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	secret, at := cr.secret, cr.at
	if secret == "" {
		secret = actionSecret
	}
	if at.IsZero() {
		at = time.Now()
	}
	hubspot.SignRequest(req, secret, u, body, at)
	if cr.tamper != nil {
		cr.tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestCardSignatures(t *testing.T) {
	db := testenv.Store(t)
	rt := &recordingTemporal{}
	srv := cardServer(t, rt, db, "q")
	if err := db.AddSender(context.Background(), 62515, "ACME", true, store.SenderManual); err != nil {
		t.Fatal(err)
	}
	send := map[string]any{"clientId": "client-sig-0001", "objectType": "0-1", "objectId": "904",
		"inputs": map[string]string{"country": "FR", "sender": "ACME", "message": "Bonjour"}}
	onlyV3 := func(r *http.Request) {
		r.Header.Del(hubspot.HeaderSignature)
		r.Header.Del(hubspot.HeaderSignatureVersion)
	}
	onlyV2 := func(r *http.Request) { r.Header.Del(hubspot.HeaderSignatureV3) }
	for _, tc := range []struct {
		name string
		req  cardRequest
		want int
	}{
		{"signed", cardRequest{method: "GET", path: "/hubspot/card/senders", portal: "62515", tamper: onlyV3}, 200},
		{"wrong secret", cardRequest{method: "GET", path: "/hubspot/card/senders", portal: "62515", secret: "forged"}, 401},
		{"stale", cardRequest{method: "GET", path: "/hubspot/card/senders", portal: "62515", at: time.Now().Add(-6 * time.Minute)}, 401},
		{"from the future", cardRequest{method: "GET", path: "/hubspot/card/senders", portal: "62515", at: time.Now().Add(6 * time.Minute)}, 401},
		{"v2 only (replayable)", cardRequest{method: "GET", path: "/hubspot/card/senders", portal: "62515", tamper: onlyV2}, 401},
		{"unsigned", cardRequest{method: "GET", path: "/hubspot/card/senders", portal: "62515", tamper: func(r *http.Request) { onlyV2(r); onlyV3(r) }}, 401},
		{"other portal in the URL", cardRequest{method: "GET", path: "/hubspot/card/senders", portal: "62515", tamper: func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "portalId=62515", "portalId=1", 1)
		}}, 401},
		{"changed body", cardRequest{method: "POST", path: "/hubspot/card/messages", portal: "62515", body: send, tamper: func(r *http.Request) {
			b := []byte(`{"clientId":"client-sig-0002","objectType":"0-1","objectId":"904","inputs":{"message":"x"}}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}}, 401},
		{"no portal", cardRequest{method: "GET", path: "/hubspot/card/senders"}, 400},
		{"two portals", cardRequest{method: "GET", path: "/hubspot/card/senders?portalId=1", portal: "62515"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.req.do(t, srv)
			if status != tc.want {
				t.Fatalf("status %d (%s), want %d", status, body, tc.want)
			}
			if tc.want == 200 && !strings.Contains(string(body), `"sender":"ACME","default":true`) {
				t.Fatalf("senders: %s", body)
			}
		})
	}
	if rt.count() != 0 {
		t.Fatalf("refused requests started %d workflows", rt.count())
	}
}

// The card's send on the real Temporal dev server: the same client id twice is one workflow and
// one message id, while it runs and after it ended; a template's text is the workflow's message.
func TestCardSendIdempotentOnDevServer(t *testing.T) {
	c := testenv.Temporal(t)
	db := testenv.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	queue := "test-card-" + testenv.RandomID()
	var mu sync.Mutex
	var started []workflows.SMSRequest
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, req workflows.SMSRequest) (workflows.SMSResult, error) {
		mu.Lock()
		started = append(started, req)
		mu.Unlock()
		workflow.GetSignalChannel(ctx, "release").Receive(ctx, nil)
		return workflows.SMSResult{Status: outcome.SMSSent, MessageID: req.MessageID}, nil
	}, workflow.RegisterOptions{Name: workflows.SendSMSName})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	srv := cardServer(t, c, db, queue)

	clientID := "card-" + testenv.RandomID()
	body := map[string]any{"clientId": clientID, "objectType": "0-1", "objectId": 904,
		"inputs": map[string]any{"country": "FR", "sender": "ACME", "message_type": "transactional", "message": "Bonjour $prenom",
			"allow_unicode": true, "shorten_urls": "true", "wait_for": "reply"}}
	type sent struct {
		MessageID, Status, CampaignName, ErrorCode string
	}
	sendOnce := func(b any) (int, sent) {
		t.Helper()
		status, raw := cardRequest{method: "POST", path: "/hubspot/card/messages", portal: "62515", body: b}.do(t, srv)
		var s sent
		_ = json.Unmarshal(raw, &s)
		return status, s
	}
	s1, first := sendOnce(body)
	s2, second := sendOnce(body) // a double click, or HubSpot's retry
	wantID := api.CardMessageID(62515, clientID)
	if s1 != http.StatusAccepted || s2 != http.StatusAccepted || first.MessageID != wantID || second.MessageID != wantID {
		t.Fatalf("sends: %d %+v, %d %+v; want 202 with %s", s1, first, s2, second, wantID)
	}
	if want := api.CardCampaign(time.Now()); first.CampaignName != want || !strings.HasPrefix(want, "HUBSPOT_SMS_CRM_") {
		t.Fatalf("campaign %q, want %q", first.CampaignName, want)
	}
	runs := func(id string) int {
		t.Helper()
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = '%s'", workflows.SMSWorkflowID(id))})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetExecutions())
	}
	if n := runs(wantID); n != 1 {
		t.Fatalf("%d runs for one client id", n)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(started)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	if len(started) != 1 {
		mu.Unlock()
		t.Fatalf("%d workflow starts", len(started))
	}
	r := started[0]
	mu.Unlock()
	i := r.Inputs
	if r.MessageID != wantID || r.CallbackID != "" || r.PortalID != 62515 || r.ObjectType != "contact" || r.ObjectID != "904" ||
		i.SendingUser != "7" || i.Sender != "ACME" || i.MessageType != "transactional" || !i.AllowUnicode || !i.ShortenURLs ||
		i.WaitFor != "none" || i.Message != "Bonjour $prenom" || i.CampaignName != first.CampaignName {
		t.Fatalf("workflow request %+v", r)
	}

	// The workflow wrote its message and ended: the same client id answers with it, starts nothing.
	if err := db.SaveMessage(ctx, store.Message{ID: wantID, PortalID: 62515, ObjectType: "contact", ObjectID: "904", Status: string(outcome.SMSDelivered),
		Campaign: first.CampaignName, Text: "Bonjour Ada", Segments: 1, Encoding: "GSM7"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SignalWorkflow(ctx, workflows.SMSWorkflowID(wantID), "", "release", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.GetWorkflow(ctx, workflows.SMSWorkflowID(wantID), "").Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if s, again := sendOnce(body); s != http.StatusOK || again.MessageID != wantID || again.Status != string(outcome.SMSDelivered) {
		t.Fatalf("the same client id after the end: %d %+v", s, again)
	}
	if n := runs(wantID); n != 1 {
		t.Fatalf("%d runs after a repeat", n)
	}

	// Invalid options: 422 with the action's error code, nothing started.
	bad := map[string]any{"clientId": "card-" + testenv.RandomID(), "objectType": "contacts", "objectId": "904",
		"inputs": map[string]string{"sender": "Not Valid!", "message": "x"}}
	if s, res := sendOnce(bad); s != http.StatusUnprocessableEntity || res.ErrorCode != string(outcome.InvalidSender) {
		t.Fatalf("invalid sender: %d %+v", s, res)
	}
	if n := runs(api.CardMessageID(62515, bad["clientId"].(string))); n != 0 {
		t.Fatalf("an invalid send started %d runs", n)
	}

	// From a template: the workflow gets the template's text, and the message its version.
	status, raw := cardRequest{method: "POST", path: "/hubspot/card/templates", portal: "62515",
		body: map[string]string{"name": "Rappel", "body": "Rappel pour $prenom $nom"}}.do(t, srv)
	var tpl struct {
		ID      string
		Version int
	}
	if err := json.Unmarshal(raw, &tpl); status != http.StatusCreated || err != nil || tpl.ID == "" {
		t.Fatalf("create template: %d %s", status, raw)
	}
	fromTemplate := map[string]any{"clientId": "card-" + testenv.RandomID(), "objectType": "deal", "objectId": "77", "templateId": tpl.ID,
		"inputs": map[string]string{"country": "FR", "message": "ignored when a template is chosen"}}
	if s, res := sendOnce(fromTemplate); s != http.StatusAccepted {
		t.Fatalf("send from a template: %d %+v", s, res)
	}
	tplMessage := api.CardMessageID(62515, fromTemplate["clientId"].(string))
	deadline = time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(started)
		mu.Unlock()
		if n > 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	last := started[len(started)-1]
	mu.Unlock()
	if last.MessageID != tplMessage || last.Inputs.Message != "Rappel pour $prenom $nom" || last.ObjectType != "deal" {
		t.Fatalf("the template send's request: %+v", last)
	}
	used, err := db.MessageTemplates(ctx, []string{tplMessage})
	if err != nil || used[tplMessage] != (store.MessageTemplate{TemplateID: tpl.ID, Version: 1}) {
		t.Fatalf("recorded template: %+v, %v", used, err)
	}
	if err := c.SignalWorkflow(ctx, workflows.SMSWorkflowID(tplMessage), "", "release", nil); err != nil {
		t.Fatal(err)
	}
}

func TestCardTemplatesCRUD(t *testing.T) {
	db := testenv.Store(t)
	srv := cardServer(t, &recordingTemporal{}, db, "q")
	call := func(method, path, portal string, body any) (int, map[string]any) {
		t.Helper()
		status, raw := cardRequest{method: method, path: path, portal: portal, body: body}.do(t, srv)
		out := map[string]any{}
		_ = json.Unmarshal(raw, &out)
		return status, out
	}
	status, created := call("POST", "/hubspot/card/templates", "62515", map[string]string{"name": "Bienvenue", "body": "Bonjour $prenom {{contact.company}}"})
	id, _ := created["id"].(string)
	if status != 201 || id == "" || created["version"] != 1.0 || fmt.Sprint(created["tokens"]) != "[company firstname]" || created["updatedBy"] != "7" {
		t.Fatalf("create: %d %v", status, created)
	}
	if status, _ := call("POST", "/hubspot/card/templates", "62515", map[string]string{"name": "bienvenue", "body": "x"}); status != 409 {
		t.Fatalf("duplicate name: %d", status)
	}
	if status, _ := call("POST", "/hubspot/card/templates", "62515", map[string]string{"name": "Empty", "body": "  "}); status != 422 {
		t.Fatalf("empty body: %d", status)
	}
	status, updated := call("PUT", "/hubspot/card/templates/"+id, "62515", map[string]any{"name": "Bienvenue", "body": "Salut $prenom", "version": 1})
	if status != 200 || updated["version"] != 2.0 || updated["body"] != "Salut $prenom" {
		t.Fatalf("update: %d %v", status, updated)
	}
	if status, _ := call("PUT", "/hubspot/card/templates/"+id, "62515", map[string]any{"name": "Bienvenue", "body": "stale", "version": 1}); status != 409 {
		t.Fatalf("stale update: %d", status)
	}
	status, got := call("GET", "/hubspot/card/templates/"+id, "62515", nil)
	if versions, _ := got["versions"].([]any); status != 200 || len(versions) != 2 || got["body"] != "Salut $prenom" {
		t.Fatalf("get: %d %v", status, got)
	}
	if status, _ := call("GET", "/hubspot/card/templates/"+id, "999", nil); status != 404 {
		t.Fatalf("another portal reads it: %d", status)
	}
	if status, _ := call("DELETE", "/hubspot/card/templates/"+id, "999", nil); status != 404 {
		t.Fatalf("another portal deletes it: %d", status)
	}
	status, list := call("GET", "/hubspot/card/templates", "62515", nil)
	if templates, _ := list["templates"].([]any); status != 200 || len(templates) != 1 {
		t.Fatalf("list: %d %v", status, list)
	}
	if status, _ := call("DELETE", "/hubspot/card/templates/"+id, "62515", nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	status, list = call("GET", "/hubspot/card/templates", "62515", nil)
	if templates, _ := list["templates"].([]any); status != 200 || len(templates) != 0 {
		t.Fatalf("list after delete: %d %v", status, list)
	}
}

func TestCardRecordMessages(t *testing.T) {
	db := testenv.Store(t)
	ctx := context.Background()
	srv := cardServer(t, &recordingTemporal{}, db, "q")
	long := strings.Repeat("é", 250)
	for i, m := range []store.Message{
		{ID: "00000000-0000-4000-8000-000000000001", PortalID: 62515, ObjectType: "contact", ObjectID: "904", Status: "SMS_DELIVERED", Text: "first", Segments: 1, Encoding: "GSM7"},
		{ID: "00000000-0000-4000-8000-000000000002", PortalID: 62515, ObjectType: "contact", ObjectID: "904", Status: "SMS_NOT_SENT", Text: long, Segments: 4, Encoding: "UCS2", ErrorCode: "OPTED_OUT", ErrorMessage: "the recipient opted out"},
		{ID: "00000000-0000-4000-8000-000000000003", PortalID: 1, ObjectType: "contact", ObjectID: "904", Status: "SMS_SENT", Text: "another portal's"},
	} {
		if err := db.SaveMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `UPDATE messages SET created_at = now() - make_interval(mins => $2) WHERE id = $1`, m.ID, 10-i); err != nil {
			t.Fatal(err)
		}
	}
	status, raw := cardRequest{method: "GET", path: "/hubspot/card/messages?objectType=0-1&objectId=904", portal: "62515"}.do(t, srv)
	var got struct {
		Messages []api.CardMessage `json:"messages"`
	}
	if err := json.Unmarshal(raw, &got); status != 200 || err != nil || len(got.Messages) != 2 {
		t.Fatalf("messages: %d %s", status, raw)
	}
	newest := got.Messages[0]
	if newest.ID != "00000000-0000-4000-8000-000000000002" || newest.Status != "SMS_NOT_SENT" || newest.Segments != 4 || newest.ErrorCode != "OPTED_OUT" ||
		newest.Preview != strings.Repeat("é", 200)+"…" || got.Messages[1].Preview != "first" {
		t.Fatalf("messages: %+v", got.Messages)
	}
	if status, _ := (cardRequest{method: "GET", path: "/hubspot/card/messages?objectType=widget&objectId=904", portal: "62515"}).do(t, srv); status != 400 {
		t.Fatalf("unknown object type: %d", status)
	}
}

// The action's template input: the template's text goes to the workflow, at the version recorded
// for the execution, whatever edits come between HubSpot's retries; an unknown one fails clearly.
func TestActionTemplateInput(t *testing.T) {
	db := testenv.Store(t)
	ctx := context.Background()
	rt := &recordingTemporal{}
	srv := cardServer(t, rt, db, "q")
	tpl, err := db.CreateTemplate(ctx, 62515, "Promo", "Bonjour {{contact.firstname}}, -20% aujourd'hui", "")
	if err != nil {
		t.Fatal(err)
	}
	url := srv.URL + "/hubspot/actions/sms"
	ex := execution("ap-tpl", map[string]string{"template": tpl.ID, "message": ""})
	if got := post(t, signed(t, url, url, actionSecret, ex.Body(), time.Now())); got.status != 200 || got.outputs["hs_execution_state"] != "BLOCK" {
		t.Fatalf("template action: %d %v", got.status, got.outputs)
	}
	if _, err := db.UpdateTemplate(ctx, 62515, tpl.ID, "Promo", "changed after the first delivery", "", 0); err != nil {
		t.Fatal(err)
	}
	if got := post(t, signed(t, url, url, actionSecret, ex.Body(), time.Now())); got.status != 200 {
		t.Fatalf("retried template action: %d %v", got.status, got.outputs)
	}
	if rt.count() != 2 || rt.reqs[0].Inputs.Message != tpl.Body || rt.reqs[1].Inputs.Message != tpl.Body {
		t.Fatalf("workflow messages: %d starts, %+v", rt.count(), rt.reqs)
	}
	for _, tc := range []struct{ template, want string }{
		{"00000000-0000-4000-8000-00000000abcd", string(outcome.TemplateNotFound)},
		{"not-an-id", string(outcome.TemplateNotFound)},
	} {
		got := post(t, signed(t, url, url, actionSecret, execution("ap-tpl-"+tc.template, map[string]string{"template": tc.template}).Body(), time.Now()))
		if got.outputs["hs_execution_state"] != "FAIL_CONTINUE" || got.outputs["error_code"] != tc.want {
			t.Errorf("template %s: %v", tc.template, got.outputs)
		}
	}
	if rt.count() != 2 {
		t.Fatalf("unknown templates started workflows: %d", rt.count())
	}

	// The input's options: the portal's templates, searchable, for a signed request only.
	opts := srv.URL + "/hubspot/actions/options/templates"
	optBody := func(q string) []byte {
		return []byte(fmt.Sprintf(`{"origin":{"portalId":62515},"inputFieldName":"template","fetchOptions":{"q":%q}}`, q))
	}
	for _, tc := range []struct {
		q    string
		want int
	}{{"", 1}, {"pro", 1}, {"zzz", 0}} {
		req := signed(t, opts, opts, actionSecret, optBody(tc.q), time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Options []struct{ Label, Value string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(out.Options) != tc.want || tc.want == 1 && (out.Options[0].Value != tpl.ID || out.Options[0].Label != "Promo") {
			t.Errorf("options q=%q: %d %+v", tc.q, resp.StatusCode, out)
		}
	}
	if resp, err := http.DefaultClient.Do(signed(t, opts, opts, "forged", optBody(""), time.Now())); err != nil || resp.StatusCode != 401 {
		t.Fatalf("forged options request: %v %v", resp, err)
	}
}

package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"smsflow/api"
	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/internal/testenv"
	"smsflow/store"
	"smsflow/workflows"
)

const adminToken = "admin-token-for-tests"

// privacyEnv is the API with a database and the dev server, an admin token and the app secret.
type privacyEnv struct {
	db     *store.Store
	tc     client.Client
	router http.Handler
	cfg    config.Config
}

func newPrivacyEnv(t *testing.T) *privacyEnv {
	t.Helper()
	db := testenv.Store(t)
	tc := testenv.Temporal(t)
	cfg := config.Config{PublicBaseURL: "http://api.test", TemporalNamespace: "default", PhoneHashKey: "api-phone-key",
		AdminToken: adminToken, HubSpot: config.HubSpot{ClientSecret: actionSecret}}
	return &privacyEnv{db: db, tc: tc, cfg: cfg,
		router: api.NewRouter(api.Deps{Log: slog.New(slog.DiscardHandler), Config: cfg, Temporal: tc, Store: db})}
}

// message stores a message of the portal to number for contact 901, its workflow started on a
// task queue no worker polls (it runs until cancelled).
func (e *privacyEnv) message(t *testing.T, portal int64, number string) (id, workflowID string) {
	t.Helper()
	ctx := context.Background()
	id = uuid.NewString()
	workflowID = workflows.SMSWorkflowID(id)
	if _, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflowID, TaskQueue: "nobody-" + testenv.RandomID()},
		workflows.SendSMSName, workflows.SMSRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SaveMessage(ctx, store.Message{ID: id, PortalID: portal, ObjectType: "contact", ObjectID: "901", Phone: number,
		Status: "PENDING", WorkflowID: workflowID}); err != nil {
		t.Fatal(err)
	}
	return id, workflowID
}

// cancelRequested says whether the workflow was asked to cancel (no worker runs it to its end).
func (e *privacyEnv) cancelRequested(t *testing.T, workflowID string) bool {
	t.Helper()
	it := e.tc.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED {
			return true
		}
	}
	return false
}

func (e *privacyEnv) messages(t *testing.T, number string) int {
	t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE phone = $1`, number).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *privacyEnv) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.router.ServeHTTP(rec, req)
	return rec
}

func TestErasureEndpoint(t *testing.T) {
	e := newPrivacyEnv(t)
	const portal = int64(62611)
	const number = "+33612345671"
	_, wf := e.message(t, portal, number)
	body := `{"portal_id": 62611, "phone": "06 12 34 56 71", "country": "FR"}`
	for name, auth := range map[string]string{"no token": "", "wrong token": "Bearer nope", "not bearer": adminToken} {
		req := httptest.NewRequest(http.MethodPost, "/admin/erasure", strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if rec := e.do(req); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, rec.Code)
		}
	}
	if e.messages(t, number) != 1 || e.cancelRequested(t, wf) {
		t.Fatal("a refused request erased something")
	}
	req := httptest.NewRequest(http.MethodPost, "/admin/erasure", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec := e.do(req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"messages":1`) {
		t.Fatalf("erasure: %d %s", rec.Code, rec.Body.String())
	}
	if e.messages(t, number) != 0 || !e.cancelRequested(t, wf) {
		t.Error("the number's message was not erased, or its workflow not cancelled")
	}
	if strings.Contains(rec.Body.String(), "612345671") {
		t.Error("the answer repeats the number")
	}

	// With no ADMIN_TOKEN configured, no token opens the endpoints.
	cfg := e.cfg
	cfg.AdminToken = ""
	open := api.NewRouter(api.Deps{Log: slog.New(slog.DiscardHandler), Config: cfg, Temporal: e.tc, Store: e.db})
	req = httptest.NewRequest(http.MethodPost, "/admin/portals/62611/disconnect", nil)
	req.Header.Set("Authorization", "Bearer ")
	rec = httptest.NewRecorder()
	open.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("no ADMIN_TOKEN configured: %d, want 401", rec.Code)
	}
}

func TestPrivacyDeletionWebhook(t *testing.T) {
	e := newPrivacyEnv(t)
	const portal = int64(62612)
	const number = "+33612345672"
	_, wf := e.message(t, portal, number)
	if err := e.db.Suppress(context.Background(), portal, "sms", number, store.SourceStopReply, ""); err != nil {
		t.Fatal(err)
	}
	body := []byte(`[{"eventId":1001,"subscriptionId":7,"portalId":62612,"appId":42,"occurredAt":1764400000000,` +
		`"subscriptionType":"contact.privacyDeletion","attemptNumber":0,"objectId":901,"changeFlag":"PRIVACY_DELETION"}]`)
	url := e.cfg.PublicBaseURL + "/hubspot/webhooks"
	send := func(sign func(*http.Request)) int {
		req := httptest.NewRequest(http.MethodPost, "/hubspot/webhooks", bytes.NewReader(body))
		sign(req)
		return e.do(req).Code
	}
	cases := []struct {
		name string
		sign func(*http.Request)
	}{
		{"unsigned", func(*http.Request) {}},
		{"another secret", func(r *http.Request) { hubspot.SignRequest(r, "not-the-secret", url, body, time.Now()) }},
		{"stale", func(r *http.Request) {
			hubspot.SignRequest(r, actionSecret, url, body, time.Now().Add(-10*time.Minute))
		}},
		{"v2 only", func(r *http.Request) {
			hubspot.SignRequest(r, actionSecret, url, body, time.Now())
			r.Header.Del(hubspot.HeaderSignatureV3)
		}},
	}
	for _, c := range cases {
		if code := send(c.sign); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", c.name, code)
		}
	}
	if e.messages(t, number) != 1 {
		t.Fatal("a refused webhook erased the contact's messages")
	}
	if code := send(func(r *http.Request) { hubspot.SignRequest(r, actionSecret, url, body, time.Now()) }); code != http.StatusNoContent {
		t.Fatalf("signed privacy deletion: %d, want 204", code)
	}
	if e.messages(t, number) != 0 || !e.cancelRequested(t, wf) {
		t.Error("the deleted contact's message was not erased, or its workflow not cancelled")
	}
	if off, _, _ := e.db.Suppressed(context.Background(), portal, "sms", number); !off {
		t.Error("the contact's opt-out did not survive as a hash")
	}
	var clear int
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM suppressions WHERE phone = $1`, number).Scan(&clear); err != nil || clear != 0 {
		t.Errorf("suppressions in clear after the deletion: %d, %v", clear, err)
	}
}

func TestDisconnectEndpointStopsThePortal(t *testing.T) {
	e := newPrivacyEnv(t)
	const portal = int64(62613)
	if err := e.db.SetPortalSettings(context.Background(), portal, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	// The portal's running workflow is found by its SmsPortalId.
	wf := workflows.SMSWorkflowID(uuid.NewString())
	if _, err := e.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: wf, TaskQueue: "nobody-" + testenv.RandomID(),
		TypedSearchAttributes: temporalAttrs(portal)}, workflows.SendSMSName, workflows.SMSRequest{}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/admin/portals/62613/disconnect", nil)
	if rec := e.do(req); rec.Code != http.StatusUnauthorized {
		t.Fatalf("without token: %d", rec.Code)
	}
	var rec *httptest.ResponseRecorder
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		req = httptest.NewRequest(http.MethodPost, "/admin/portals/62613/disconnect", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if rec = e.do(req); rec.Code != http.StatusOK || e.cancelRequested(t, wf) {
			break // visibility may list the new run a moment late: repeating is harmless
		}
	}
	if rec.Code != http.StatusOK || !e.cancelRequested(t, wf) {
		t.Fatalf("disconnect: %d %s; cancel requested %v", rec.Code, rec.Body.String(), e.cancelRequested(t, wf))
	}
	if s, err := e.db.PortalSettingsOf(context.Background(), portal); err != nil || s.Connected {
		t.Errorf("portal still connected: %v", err)
	}
}

func temporalAttrs(portal int64) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(workflows.PortalIDKey.ValueSet(strconv.FormatInt(portal, 10)))
}

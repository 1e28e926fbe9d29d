package hubspottest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"smsflow/hubspot"
	"smsflow/hubspot/hubspottest"
)

// TestRouting checks, for each gate, which status a method and path get, whether the error is
// HubSpot's JSON body, and whether the call counted against the portal's rate limit (only API
// calls with a valid token do, unknown routes included). Redirects are not followed, so one of
// ServeMux's (for a non-clean path, or a subtree root without its slash) would show as a 3xx.
func TestRouting(t *testing.T) {
	f := hubspottest.NewServer(t, "id", "secret")
	f.RateLimit = 1000
	f.AddToken(1, "tok", 0)
	f.AddDeveloperKey("k", 9)
	f.SetObject(1, "contacts", "5", nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	const (
		none = iota
		bearer
		hapikey
	)
	completion := `{"outputFields":{"hs_execution_state":"SUCCESS"}}`
	batch := `{"inputs":[{"callbackId":"b1","outputFields":{"hs_execution_state":"SUCCESS"}}]}`
	for _, tc := range []struct {
		method, path string
		auth         int
		body         string
		status       int
		category     string // of the JSON error body; "" when not an error
		counted      bool
	}{
		// The API.
		{"GET", "/crm/v3/objects/contacts/5", bearer, "", 200, "", true},
		{"PATCH", "/crm/v3/objects/contacts/5", bearer, `{"properties":{"firstname":"A"}}`, 200, "", true},
		{"GET", "/crm/v3/objects/contacts/6", bearer, "", 404, "OBJECT_NOT_FOUND", true},
		{"GET", "/crm/v3/objects/contacts/5", none, "", 401, "INVALID_AUTHENTICATION", false},
		{"POST", "/automation/v4/actions/callbacks/c1/complete", bearer, completion, 204, "", true},
		{"POST", "/automation/v4/actions/callbacks/complete", bearer, batch, 204, "", true},
		{"POST", "/automation/actions/callbacks/2026-03/complete", bearer, batch, 204, "", true}, // HUBSPOT_PATHS callbacks=/automation/actions/callbacks/2026-03
		{"POST", "/automation/actions/callbacks/2026-03/c2/complete", bearer, completion, 204, "", true},
		{"POST", "/automation/actions/callbacks/2026-03/c2/complete", bearer, completion, 409, "CONFLICT", true},
		{"POST", "/crm/properties/2025-09/contacts/groups", bearer, `{"name":"g","label":"G"}`, 201, "", true},
		{"GET", "/integrations/v1/me", bearer, "", 200, "", true},
		// Unknown API routes: a token first, then 404 with HubSpot's body, counted.
		{"GET", "/nope", bearer, "", 404, "OBJECT_NOT_FOUND", true},
		{"GET", "/nope", none, "", 401, "INVALID_AUTHENTICATION", false},
		{"GET", "/oauth", bearer, "", 404, "OBJECT_NOT_FOUND", true},
		{"POST", "/crm/v3/objects/contacts/5/extra", bearer, "{}", 404, "OBJECT_NOT_FOUND", true},
		{"GET", "/crm/v3/objects/contacts//5", bearer, "", 404, "OBJECT_NOT_FOUND", true},
		{"GET", "/crm/v3/objects/contacts/5/", bearer, "", 404, "OBJECT_NOT_FOUND", true},
		// A known API path with another method: also 404, not 405.
		{"GET", "/automation/v4/actions/callbacks/complete", bearer, "", 404, "OBJECT_NOT_FOUND", true},
		{"PUT", "/crm/v3/objects/contacts/5", bearer, "{}", 404, "OBJECT_NOT_FOUND", true},
		{"POST", "/account-info/v3/details", bearer, "{}", 404, "OBJECT_NOT_FOUND", true},
		{"HEAD", "/crm/v3/objects/contacts/5", bearer, "", 404, "", true},
		// OAuth: no token, never counted; unknown paths 404 with HubSpot's body.
		{"GET", "/oauth/nope", none, "", 404, "NOT_FOUND", false},
		{"GET", "/oauth/v1/access-tokens", none, "", 404, "NOT_FOUND", false},
		{"GET", "/oauth/v1/access-tokens/tok", none, "", 200, "", false},
		{"GET", "/oauth/v1/access-tokens/nope", none, "", 404, "OBJECT_NOT_FOUND", false},
		{"GET", "/oauth/v1/token", none, "", 404, "NOT_FOUND", false},
		{"POST", "/oauth/v1/token", none, "", 400, "", false},
		{"GET", "/oauth/authorize?client_id=id&redirect_uri=http://x.example/cb", none, "", 302, "", false},
		// The developer-key APIs: ?hapikey=, never counted, 405 for another method.
		{"GET", "/automation/v4/actions/9", hapikey, "", 200, "", false},
		{"GET", "/automation/v4/actions/9", bearer, "", 401, "INVALID_AUTHENTICATION", false},
		{"DELETE", "/automation/v4/actions/9", hapikey, "", 405, "METHOD_NOT_ALLOWED", false},
		{"PUT", "/automation/v4/actions/9/1", hapikey, "{}", 405, "METHOD_NOT_ALLOWED", false},
		{"GET", "/automation/v4/actions/9/1", hapikey, "", 404, "OBJECT_NOT_FOUND", false},
		{"GET", "/automation/v4/actions/abc", none, "", 404, "OBJECT_NOT_FOUND", false},
		{"GET", "/integrators/timeline/v3/9/event-templates", hapikey, "", 200, "", false},
		{"PATCH", "/crm/v3/timeline/9/event-templates/1", hapikey, "{}", 405, "METHOD_NOT_ALLOWED", false},
		// /automation/v4/actions/callbacks is the callbacks API, not an app.
		{"GET", "/automation/v4/actions/callbacks", hapikey, "", 401, "INVALID_AUTHENTICATION", false},
		{"GET", "/automation/v4/actions/callbacks", bearer, "", 404, "OBJECT_NOT_FOUND", true},
	} {
		name := tc.method + " " + tc.path
		target := f.URL + tc.path
		if tc.auth == hapikey {
			target += "?hapikey=k"
		}
		req, err := http.NewRequest(tc.method, target, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if tc.auth == bearer {
			req.Header.Set("Authorization", "Bearer tok")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Status, Category, CorrelationID string }
		jsonErr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, tc.status)
		}
		if tc.category != "" && (jsonErr != nil || body.Status != "error" || body.Category != tc.category || body.CorrelationID == "" ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")) {
			t.Errorf("%s: body %+v (%v), %s; want HubSpot's error body with category %s", name, body, jsonErr, resp.Header.Get("Content-Type"), tc.category)
		}
		if counted := resp.Header.Get("X-HubSpot-RateLimit-Remaining") != ""; counted != tc.counted {
			t.Errorf("%s: counted against the rate limit: %v, want %v", name, counted, tc.counted)
		}
	}
	for _, id := range []string{"c1", "c2"} {
		if c := f.Completed(id); c == nil || c.PortalID != 1 {
			t.Errorf("%s: %+v", id, c)
		}
	}
	if c := f.Completed("b1"); c == nil || c.Count != 2 {
		t.Errorf("b1, completed through both callbacks prefixes: %+v", c)
	}
}

// staticToken is a hubspot.TokenSource with one token for every portal.
type staticToken string

func (s staticToken) AccessToken(context.Context, int64) (string, error) { return string(s), nil }
func (staticToken) Invalidate(int64, string)                             {}

// TestDatedCallbacksPath runs the client with the callbacks prefix HUBSPOT_PATHS may set to
// HubSpot's date-versioned API: single and batch completions both reach the fake. A 404 there
// would be taken by the client for "already completed" and the completion silently lost.
func TestDatedCallbacksPath(t *testing.T) {
	f := hubspottest.NewServer(t, "id", "secret")
	f.AddToken(1, "tok", 0)
	paths, err := hubspot.ParsePaths("callbacks=/automation/actions/callbacks/2026-03")
	if err != nil {
		t.Fatal(err)
	}
	c := hubspot.NewClient(f.URL, staticToken("tok"))
	c.Paths = paths
	ctx := context.Background()
	if err := c.CompleteCallback(ctx, 1, "one", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.CompleteCallbacks(ctx, 1, []hubspot.Completion{{CallbackID: "two"}, {CallbackID: "three"}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"one", "two", "three"} {
		if got := f.Completed(id); got == nil || got.Count != 1 || got.Outputs[hubspot.OutputState] != hubspot.StateSuccess {
			t.Errorf("%s: %+v", id, got)
		}
	}
	if calls := f.CallsTo("POST", "/automation/actions/callbacks/2026-03/"); len(calls) != 2 {
		t.Errorf("calls under the dated prefix: %d, want 2", len(calls))
	}
}

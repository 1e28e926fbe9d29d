package hubspottest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"smsflow/hubspot/hubspottest"
)

func send(t *testing.T, method, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestDeveloperAPIs checks that the developer-key APIs want ?hapikey= (a Bearer token does not
// do), answer HubSpot's error bodies, and keep ids stable across updates.
func TestDeveloperAPIs(t *testing.T) {
	f := hubspottest.NewServer(t, "id", "secret")
	f.AddToken(1, "tok", 0)
	f.AddDeveloperKey("k", 9)
	base := f.URL + "/automation/v4/actions/9"
	action := map[string]any{"actionUrl": "https://x.example/a", "labels": map[string]any{"en": map[string]any{"actionName": "A"}}}

	resp, body := get(t, base, "tok")
	if resp.StatusCode != 401 || body["category"] != "INVALID_AUTHENTICATION" || body["status"] != "error" || body["correlationId"] == "" {
		t.Fatalf("Bearer only: %d %v", resp.StatusCode, body)
	}
	if resp, _ := get(t, base+"?hapikey=wrong", ""); resp.StatusCode != 401 {
		t.Errorf("wrong key: %d", resp.StatusCode)
	}
	if resp, _ := get(t, f.URL+"/automation/v4/actions/10?hapikey=k", ""); resp.StatusCode != 403 {
		t.Errorf("another account's app: %d", resp.StatusCode)
	}

	status, created := send(t, "POST", base+"?hapikey=k", action)
	id, _ := created["id"].(string)
	if status != 201 || id == "" || created["published"] != false || created["revisionId"] != "1" {
		t.Fatalf("create: %d %v", status, created)
	}
	status, patched := send(t, "PATCH", base+"/"+id+"?hapikey=k", map[string]any{"published": true})
	if status != 200 || patched["id"] != id || patched["published"] != true || patched["revisionId"] != "2" || patched["actionUrl"] != "https://x.example/a" {
		t.Fatalf("patch: %d %v", status, patched)
	}
	if status, _ := send(t, "PATCH", base+"/nope?hapikey=k", map[string]any{}); status != 404 {
		t.Errorf("patch of an unknown id: %d", status)
	}
	if status, body := send(t, "POST", base+"?hapikey=k", map[string]any{"actionUrl": "relative"}); status != 400 || body["category"] != "VALIDATION_ERROR" {
		t.Errorf("invalid definition: %d %v", status, body)
	}
	if defs := f.ActionDefinitions(9); len(defs) != 1 || defs[0]["published"] != true {
		t.Errorf("stored: %v", defs)
	}

	tbase := f.URL + "/integrators/timeline/v3/9/event-templates"
	tmpl := map[string]any{"name": "T", "objectType": "contacts", "tokens": []any{map[string]any{"name": "n", "label": "N", "type": "string"}}}
	status, tc := send(t, "POST", tbase+"?hapikey=k", tmpl)
	tid, _ := tc["id"].(string)
	if status != 201 || tid == "" {
		t.Fatalf("template create: %d %v", status, tc)
	}
	tmpl["headerTemplate"] = "new"
	if status, _ := send(t, "PUT", f.URL+"/crm/v3/timeline/9/event-templates/"+tid+"?hapikey=k", tmpl); status != 400 {
		t.Errorf("update without the id in the body: %d, want 400", status)
	}
	tmpl["id"] = tid
	if status, _ := send(t, "PUT", f.URL+"/crm/v3/timeline/9/event-templates/"+tid+"?hapikey=k", tmpl); status != 200 {
		t.Errorf("update: %d", status)
	}
	if ts := f.TimelineTemplates(9); len(ts) != 1 || ts[0]["headerTemplate"] != "new" || ts[0]["objectType"] != "contacts" {
		t.Errorf("stored templates: %v", ts)
	}
	f.TimelineForbidden = true
	if status, _ := send(t, "GET", tbase+"?hapikey=k", nil); status != 403 {
		t.Errorf("non-partner app: %d", status)
	}
}

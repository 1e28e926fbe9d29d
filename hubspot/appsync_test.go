package hubspot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"smsflow/hubspot"
	"smsflow/hubspot/app"
	"smsflow/hubspot/hubspottest"
)

const (
	appID   int64 = 4242
	devKey        = "dev-key-0123"
	smsBase       = "https://sms.example.com"
)

func newAppSync(t *testing.T) (*hubspottest.Fake, *hubspot.AppSync, *clock) {
	t.Helper()
	f := hubspottest.NewServer(t, "client-id", "client-secret")
	f.AddDeveloperKey(devKey, appID)
	clk := &clock{t: time.Date(2026, 11, 25, 15, 30, 0, 0, time.UTC)}
	// PageSize 2 makes the three definitions span two pages.
	s := &hubspot.AppSync{BaseURL: f.URL, AppID: "4242", DeveloperKey: devKey, PageSize: 2, Sleep: clk.Sleep}
	return f, s, clk
}

// post creates a definition or template directly, as an earlier run or a person would have.
func post(t *testing.T, f *hubspottest.Fake, path string, body map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(f.URL+path+"?hapikey="+devKey, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 201 || out.ID == "" {
		t.Fatalf("seed %s: %d %v %+v", path, resp.StatusCode, err, out)
	}
	return out.ID
}

func byKey(list []map[string]any, key string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, m := range list {
		out[m[key].(string)] = m
	}
	return out
}

// checkMatchesFiles asserts the definitions and templates are exactly the files' three actions and
// N templates.
func checkMatchesFiles(t *testing.T, definitions, stored []map[string]any) {
	t.Helper()
	defs := byKey(definitions, "actionUrl")
	if len(defs) != len(hubspot.ActionKinds) || len(definitions) != len(hubspot.ActionKinds) {
		t.Fatalf("%d definitions (%d distinct URLs), want %d", len(definitions), len(defs), len(hubspot.ActionKinds))
	}
	for _, kind := range hubspot.ActionKinds {
		want, err := app.Action(kind, smsBase)
		if err != nil {
			t.Fatal(err)
		}
		got := defs[smsBase+"/hubspot/actions/"+kind]
		if got == nil {
			t.Fatalf("no definition with actionUrl %s/hubspot/actions/%s", smsBase, kind)
		}
		if !reflect.DeepEqual(got["labels"], want["labels"]) {
			t.Errorf("%s labels = %v, want the file's %v", kind, got["labels"], want["labels"])
		}
		if p, ok := got["published"].(bool); !ok || p != want["published"] {
			t.Errorf("%s published = %v, want %v", kind, got["published"], want["published"])
		}
		if !reflect.DeepEqual(got["inputFields"], want["inputFields"]) || !reflect.DeepEqual(got["objectTypes"], want["objectTypes"]) {
			t.Errorf("%s inputFields/objectTypes differ from the file", kind)
		}
	}
	objectType, tokens, templates, err := app.TimelineTemplates()
	if err != nil {
		t.Fatal(err)
	}
	byName := byKey(stored, "name")
	if len(stored) != len(templates) || len(byName) != len(templates) {
		t.Fatalf("%d templates (%d names), want %d", len(stored), len(byName), len(templates))
	}
	var wantTokens []any
	b, _ := json.Marshal(tokens)
	_ = json.Unmarshal(b, &wantTokens)
	for _, tm := range templates {
		got := byName[tm.Name]
		if got == nil {
			t.Fatalf("no template named %q", tm.Name)
		}
		if got["headerTemplate"] != tm.HeaderTemplate || got["detailTemplate"] != tm.DetailTemplate || got["objectType"] != objectType {
			t.Errorf("template %q = %v", tm.Name, got)
		}
		if !reflect.DeepEqual(got["tokens"], wantTokens) {
			t.Errorf("template %q tokens differ from the file", tm.Name)
		}
	}
}

// templateIDs is status → id as the fake holds them.
func templateIDs(t *testing.T, f *hubspottest.Fake) map[string]string {
	t.Helper()
	_, _, templates, _ := app.TimelineTemplates()
	byName := byKey(f.TimelineTemplates(appID), "name")
	out := map[string]string{}
	for _, tm := range templates {
		out[tm.Status] = byName[tm.Name]["id"].(string)
	}
	return out
}

func TestAppSyncCreatesThenUpdatesAndCreatesNothing(t *testing.T) {
	f, s, _ := newAppSync(t)
	first, err := s.Sync(context.Background(), smsBase+"/")
	if err != nil {
		t.Fatal(err)
	}
	_, _, templates, _ := app.TimelineTemplates()
	if len(first.Actions) != 3 || len(first.Templates) != len(templates) {
		t.Fatalf("report = %+v", first)
	}
	for _, a := range append(first.Actions, first.Templates...) {
		if !a.Created || a.ID == "" {
			t.Errorf("first run: %+v, want created with an id", a)
		}
	}
	checkMatchesFiles(t, f.ActionDefinitions(appID), f.TimelineTemplates(appID))
	ids := templateIDs(t, f)
	parsed, err := hubspot.ParseTemplates(first.TimelineTemplates())
	if err != nil || !reflect.DeepEqual(parsed, ids) {
		t.Fatalf("TimelineTemplates() = %q (%v), want the fake's ids %v", first.TimelineTemplates(), err, ids)
	}
	if out := first.String(); !strings.Contains(out, "HUBSPOT_TIMELINE_TEMPLATES="+first.TimelineTemplates()+"\n") ||
		strings.Count(out, " created id ") != 3+len(templates) {
		t.Errorf("printed report:\n%s", out)
	}
	for _, c := range f.Calls() {
		if c.Query.Get("hapikey") != devKey {
			t.Errorf("%s %s without the developer key", c.Method, c.Path)
		}
	}
	posts := len(f.CallsTo("POST", "/"))

	second, err := s.Sync(context.Background(), smsBase)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range append(second.Actions, second.Templates...) {
		was := append(first.Actions, first.Templates...)[i]
		if a.Created || a.ID != was.ID {
			t.Errorf("second run: %+v, want updated in place (id %s)", a, was.ID)
		}
	}
	if n := len(f.CallsTo("POST", "/")); n != posts {
		t.Errorf("second run made %d POSTs", n-posts)
	}
	// The app's three definitions come in two pages of 2 on the second run (one empty page first).
	if lists := f.CallsTo("GET", "/automation/v4/actions/4242"); len(lists) != 3 || lists[2].Query.Get("after") == "" {
		t.Errorf("list calls %+v, want 1 then 2 pages", lists)
	}
	if n := len(f.CallsTo("PATCH", "/automation/v4/actions/4242/")); n != 3 {
		t.Errorf("%d PATCHes, want 3", n)
	}
	if n := len(f.CallsTo("PUT", "/crm/v3/timeline/4242/event-templates/")); n != len(templates) {
		t.Errorf("%d PUTs, want %d", n, len(templates))
	}
	checkMatchesFiles(t, f.ActionDefinitions(appID), f.TimelineTemplates(appID))
	if second.TimelineTemplates() != first.TimelineTemplates() {
		t.Errorf("template ids changed: %q then %q", first.TimelineTemplates(), second.TimelineTemplates())
	}
	if strings.Contains(second.String(), " created ") {
		t.Errorf("second report:\n%s", second)
	}
}

// TestAppSyncRewritesStaleItemsInPlace checks that existing items with stale content are found by
// actionUrl and by name and rewritten from the files, and that another action of the app (another
// URL) is left alone.
func TestAppSyncRewritesStaleItemsInPlace(t *testing.T) {
	f, s, _ := newAppSync(t)
	smsID := post(t, f, "/automation/v4/actions/4242", map[string]any{"actionUrl": smsBase + "/hubspot/actions/sms", "published": true,
		"labels": map[string]any{"en": map[string]any{"actionName": "Old SMS"}}})
	otherID := post(t, f, "/automation/v4/actions/4242", map[string]any{"actionUrl": "https://other.example.com/hubspot/actions/sms",
		"labels": map[string]any{"en": map[string]any{"actionName": "Someone else's"}}})
	tmplID := post(t, f, "/crm/v3/timeline/4242/event-templates", map[string]any{"name": "SMS sent", "objectType": "contacts",
		"headerTemplate": "old", "tokens": []any{}})
	s.TemplatesPath = "/integrators/timeline/v3" // the other prefix serves the same templates

	rep, err := s.Sync(context.Background(), smsBase)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Actions[0].Name != "sms" || rep.Actions[0].Created || rep.Actions[0].ID != smsID {
		t.Errorf("sms action %+v, want %s updated", rep.Actions[0], smsID)
	}
	if rep.Templates[0].Status != "SMS_SENT" || rep.Templates[0].Created || rep.Templates[0].ID != tmplID {
		t.Errorf("SMS_SENT template %+v, want %s updated", rep.Templates[0], tmplID)
	}
	all := f.ActionDefinitions(appID)
	if len(all) != 4 {
		t.Fatalf("%d definitions, want the 3 of the files and the other one", len(all))
	}
	other := byKey(all, "id")[otherID]
	if other["labels"].(map[string]any)["en"].(map[string]any)["actionName"] != "Someone else's" {
		t.Errorf("the other action was changed: %v", other)
	}
	// Without the other action, what is left must match the files (published true became false).
	var ours []map[string]any
	for _, d := range all {
		if d["id"] != otherID {
			ours = append(ours, d)
		}
	}
	sms := byKey(ours, "id")[smsID]
	if sms["published"] != false || sms["revisionId"] != "2" {
		t.Errorf("sms definition after sync: published=%v revision=%v", sms["published"], sms["revisionId"])
	}
	checkMatchesFiles(t, ours, f.TimelineTemplates(appID))
}

func TestAppSyncRejectedKeyIsExplained(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		status    int
	}{
		{"wrong key", "not-the-key", 401},
		{"key of another developer account", "other-account-key", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, s, _ := newAppSync(t)
			f.AddDeveloperKey("other-account-key", 7)
			s.DeveloperKey = tc.key
			_, err := s.Sync(context.Background(), smsBase)
			var dk *hubspot.DeveloperKeyError
			if !errors.As(err, &dk) || dk.API.Status != tc.status {
				t.Fatalf("err = %v, want a DeveloperKeyError %d", err, tc.status)
			}
			if msg := err.Error(); !strings.Contains(msg, "HUBSPOT_DEVELOPER_API_KEY") || !strings.Contains(msg, "app 4242") || strings.Contains(msg, tc.key) {
				t.Errorf("message %q should name the variable and the app, never the key", msg)
			}
			if len(f.ActionDefinitions(appID)) != 0 {
				t.Error("definitions were created with a refused key")
			}
		})
	}
	_, s, _ := newAppSync(t)
	s.DeveloperKey = ""
	if _, err := s.Sync(context.Background(), smsBase); err == nil || !strings.Contains(err.Error(), "HUBSPOT_DEVELOPER_API_KEY is empty") {
		t.Errorf("empty key: err = %v", err)
	}
}

func TestAppSyncWaitsOutA429(t *testing.T) {
	for _, tc := range []struct {
		prefix, retryAfter string
		want               time.Duration
	}{
		{"/automation/v4/actions/4242", "3", 3 * time.Second},
		{"/crm/v3/timeline/4242/event-templates", "", 10 * time.Second},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			f, s, clk := newAppSync(t)
			f.Inject(hubspottest.Fault{PathPrefix: tc.prefix, Status: 429, Policy: hubspot.PolicyTenSecondly, RetryAfter: tc.retryAfter})
			rep, err := s.Sync(context.Background(), smsBase)
			if err != nil {
				t.Fatal(err)
			}
			if got := clk.Slept(); len(got) != 1 || got[0] != tc.want {
				t.Errorf("waits = %v, want one of %v", got, tc.want)
			}
			limited := 0
			for _, c := range f.Calls() {
				if c.Status == 429 {
					limited++
				}
			}
			if limited != 1 {
				t.Errorf("%d calls answered 429, want 1", limited)
			}
			if len(rep.Actions) != 3 || len(f.ActionDefinitions(appID)) != 3 {
				t.Errorf("after the retry: report %d actions, fake %d", len(rep.Actions), len(f.ActionDefinitions(appID)))
			}
			checkMatchesFiles(t, f.ActionDefinitions(appID), f.TimelineTemplates(appID))
		})
	}
}

func TestAppSyncGivesUpAfterMaxAttempts(t *testing.T) {
	f, s, clk := newAppSync(t)
	s.MaxAttempts = 3
	f.Inject(hubspottest.Fault{PathPrefix: "/automation/v4/actions", Status: 429, Policy: hubspot.PolicyTenSecondly, Times: 10})
	_, err := s.Sync(context.Background(), smsBase)
	var rl *hubspot.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want RateLimitedError", err)
	}
	if n := len(f.Calls()); n != 3 || len(clk.Slept()) != 2 {
		t.Errorf("%d calls and %d waits, want 3 and 2", n, len(clk.Slept()))
	}
}

func TestAppSyncShowsHubSpotsMessageOn4xx(t *testing.T) {
	_, s, _ := newAppSync(t)
	_, err := s.Sync(context.Background(), "not-a-url")
	var perm *hubspot.PermanentError
	if !errors.As(err, &perm) || perm.API.Status != 400 {
		t.Fatalf("err = %v, want a 400 PermanentError", err)
	}
	if !strings.Contains(err.Error(), `actionUrl "not-a-url/hubspot/actions/sms" is not a valid URL`) || !strings.Contains(err.Error(), "action sms") {
		t.Errorf("error %q lacks HubSpot's message or the action", err)
	}
	if strings.Contains(err.Error(), devKey) {
		t.Errorf("error %q shows the key", err)
	}
}

func TestAppSyncNonPartnerTemplatesKeepActions(t *testing.T) {
	f, s, _ := newAppSync(t)
	f.TimelineForbidden = true
	rep, err := s.Sync(context.Background(), smsBase)
	var dk *hubspot.DeveloperKeyError
	if !errors.As(err, &dk) || dk.API.Status != 403 || !strings.Contains(err.Error(), "not allowed to use timeline events") {
		t.Fatalf("err = %v, want the 403 with HubSpot's message", err)
	}
	if len(rep.Actions) != 3 || len(rep.Templates) != 0 || len(f.ActionDefinitions(appID)) != 3 {
		t.Errorf("report %+v: the actions should be done before the templates fail", rep)
	}
}

package hubspot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"smsflow/hubspot"
	"smsflow/hubspot/hubspottest"
)

const portal int64 = 62515

// clock is a fake time shared by the fake HubSpot and the client: the client's sleeps advance it,
// so waits are recorded instead of spent.
type clock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	return nil
}
func (c *clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

func setup(t *testing.T) (*hubspottest.Fake, *hubspot.Client, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 25, 15, 30, 0, 0, time.UTC)}
	f := hubspottest.NewServer(t, "client-id", "client-secret")
	f.Now = clk.Now
	f.AddToken(portal, "tok-1", 0)
	c := hubspot.NewClient(f.URL, hubspot.StaticTokens{portal: "tok-1"})
	c.Sleep, c.Now = clk.Sleep, clk.Now
	return f, c, clk
}

func TestTenSecondlyWaitsRetryAfterOrTenSeconds(t *testing.T) {
	for _, tc := range []struct {
		retryAfter string
		want       time.Duration
	}{{"", 10 * time.Second}, {"3", 3 * time.Second}} {
		t.Run("Retry-After="+tc.retryAfter, func(t *testing.T) {
			f, c, clk := setup(t)
			f.SetObject(portal, "contacts", "1", map[string]string{"phone": "+33612345678"})
			f.Inject(hubspottest.Fault{Status: 429, Policy: hubspot.PolicyTenSecondly, RetryAfter: tc.retryAfter, Times: 2})
			got, err := c.GetProperties(context.Background(), portal, "CONTACT", "1", []string{"phone"})
			if err != nil || got["phone"] != "+33612345678" {
				t.Fatalf("GetProperties = %v, %v", got, err)
			}
			if s := clk.Slept(); len(s) != 2 || s[0] != tc.want || s[1] != tc.want {
				t.Fatalf("waits = %v, want two of %v", s, tc.want)
			}
			if n := len(f.CallsTo("GET", "/crm/v3/objects/contacts/1")); n != 3 {
				t.Fatalf("%d calls, want 3", n)
			}
		})
	}
}

func TestDailyLimitIsNotRetriedBeforeThePortalsNextDay(t *testing.T) {
	f, c, clk := setup(t)
	paris, _ := time.LoadLocation("Europe/Paris")
	c.TimeZone = func(context.Context, int64) *time.Location { return paris }
	f.SetObject(portal, "contacts", "1", nil)
	f.Inject(hubspottest.Fault{Status: 429, Policy: hubspot.PolicyDaily, Times: 5})
	err := c.UpdateProperties(context.Background(), portal, "contacts", "1", map[string]string{"phone": "1"})
	var rl *hubspot.RateLimitedError
	if !errors.As(err, &rl) || rl.Policy != hubspot.PolicyDaily {
		t.Fatalf("err = %v, want a DAILY *RateLimitedError", err)
	}
	// 15:30 UTC is 16:30 in Paris: the limit resets at Paris midnight (23:00 UTC), plus a minute.
	if want := 7*time.Hour + 31*time.Minute; rl.RetryAfter != want {
		t.Fatalf("RetryAfter = %v, want %v", rl.RetryAfter, want)
	}
	if n := len(f.CallsTo("PATCH", "/crm/v3/objects/contacts/1")); n != 1 || len(clk.Slept()) != 0 {
		t.Fatalf("%d calls and waits %v: DAILY must not be retried", n, clk.Slept())
	}
	var app *temporal.ApplicationError
	if !errors.As(hubspot.ActivityError(err), &app) || app.Type() != hubspot.ErrTypeRateLimited || app.NextRetryDelay() != rl.RetryAfter || app.NonRetryable() {
		t.Fatalf("ActivityError = %#v", hubspot.ActivityError(err))
	}
}

func TestServerErrorsAreRetriedThenTemporary(t *testing.T) {
	f, c, _ := setup(t)
	f.SetObject(portal, "deals", "7", nil)
	f.Inject(hubspottest.Fault{Status: 502, Times: 2})
	if err := c.UpdateProperties(context.Background(), portal, "DEAL", "7", map[string]string{"dealname": "x"}); err != nil {
		t.Fatalf("after two 502s: %v", err)
	}
	if got := f.Object(portal, "deals", "7")["dealname"]; got != "x" {
		t.Fatalf("dealname = %q", got)
	}
	f.Inject(hubspottest.Fault{Status: 503, Times: 10})
	err := c.UpdateProperties(context.Background(), portal, "DEAL", "7", map[string]string{"dealname": "y"})
	var tmp *hubspot.TemporaryError
	if !errors.As(err, &tmp) || tmp.Status != 503 {
		t.Fatalf("err = %v, want *TemporaryError 503", err)
	}
	var app *temporal.ApplicationError
	if !errors.As(hubspot.ActivityError(err), &app) || app.Type() != hubspot.ErrTypeTemporary || app.NonRetryable() {
		t.Fatalf("ActivityError = %v", hubspot.ActivityError(err))
	}
}

func TestTimeoutIsTemporary(t *testing.T) {
	f, c, _ := setup(t)
	f.SetObject(portal, "contacts", "1", nil)
	c.HTTP = &http.Client{Timeout: 50 * time.Millisecond}
	c.MaxAttempts = 2
	f.Inject(hubspottest.Fault{Delay: time.Second, Times: 2})
	_, err := c.GetProperties(context.Background(), portal, "contacts", "1", []string{"phone"})
	var tmp *hubspot.TemporaryError
	if !errors.As(err, &tmp) {
		t.Fatalf("err = %v, want *TemporaryError", err)
	}
}

// refreshingTokens hands out tok-1, then tok-2 once invalidated.
type refreshingTokens struct {
	mu          sync.Mutex
	current     string
	invalidated []string
}

func (r *refreshingTokens) AccessToken(context.Context, int64) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current, nil
}
func (r *refreshingTokens) Invalidate(_ int64, tok string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invalidated = append(r.invalidated, tok)
	r.current = "tok-2"
}

func TestUnauthorizedRefreshesOnceThenFails(t *testing.T) {
	f, c, _ := setup(t)
	f.SetObject(portal, "contacts", "1", map[string]string{"phone": "1"})
	tokens := &refreshingTokens{current: "expired"}
	c.Tokens = tokens
	f.AddToken(portal, "tok-2", 0)
	if _, err := c.GetProperties(context.Background(), portal, "contacts", "1", []string{"phone"}); err != nil {
		t.Fatalf("after a refresh: %v", err)
	}
	if len(tokens.invalidated) != 1 || tokens.invalidated[0] != "expired" {
		t.Fatalf("invalidated %v", tokens.invalidated)
	}
	c.Tokens = hubspot.StaticTokens{portal: "never-valid"}
	_, err := c.GetProperties(context.Background(), portal, "contacts", "1", []string{"phone"})
	var un *hubspot.UnauthorizedError
	if !errors.As(err, &un) || un.API.Category != "INVALID_AUTHENTICATION" {
		t.Fatalf("err = %v, want *UnauthorizedError", err)
	}
	var app *temporal.ApplicationError
	if !errors.As(hubspot.ActivityError(err), &app) || app.Type() != hubspot.ErrTypeUnauthorized || app.NextRetryDelay() != hubspot.UnauthorizedRetryDelay {
		t.Fatalf("ActivityError = %v", hubspot.ActivityError(err))
	}
}

func TestPermanentErrors(t *testing.T) {
	f, c, _ := setup(t)
	f.SetObject(portal, "contacts", "1", nil)
	err := c.UpdateProperties(context.Background(), portal, "contacts", "1", map[string]string{"no_such_property": "x"})
	var perm *hubspot.PermanentError
	if !errors.As(err, &perm) || perm.API.Status != 400 {
		t.Fatalf("unknown property: %v", err)
	}
	_, err = c.GetProperties(context.Background(), portal, "contacts", "404", []string{"phone"})
	if hubspot.StatusOf(err) != 404 {
		t.Fatalf("missing record: %v", err)
	}
	var app *temporal.ApplicationError
	if !errors.As(hubspot.ActivityError(err), &app) || !app.NonRetryable() || app.Type() != hubspot.ErrTypePermanent {
		t.Fatalf("ActivityError = %v", hubspot.ActivityError(err))
	}
	if !errors.As(hubspot.ActivityError(fmt.Errorf("send: %w", hubspot.ErrPortalDisconnected)), &app) || !app.NonRetryable() || app.Type() != hubspot.ErrTypePortalDisconnected {
		t.Fatal("a disconnected portal must not be retried")
	}
}

// TestEveryCallCompletesUnderTheRateLimit checks that under HubSpot's own limit (here 5 per 10 s)
// and injected faults, every call completes.
func TestEveryCallCompletesUnderTheRateLimit(t *testing.T) {
	f, c, clk := setup(t)
	f.RateLimit = 5
	c.MaxAttempts = 10
	for i := range 20 {
		f.SetObject(portal, "contacts", fmt.Sprint(i), nil)
	}
	f.Inject(hubspottest.Fault{Status: 500, Times: 3})
	for i := range 20 {
		if err := c.UpdateProperties(context.Background(), portal, "contacts", fmt.Sprint(i), map[string]string{"firstname": "n"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	limited := 0
	for _, call := range f.Calls() {
		if call.Status == 429 {
			limited++
		}
	}
	if limited == 0 || len(clk.Slept()) == 0 {
		t.Fatalf("the bucket never limited (%d 429s): the test proves nothing", limited)
	}
}

func TestAssociationsPageAndAcceptNumberOrStringIDs(t *testing.T) {
	f, c, _ := setup(t)
	f.AssocPageSize = 2
	f.SetObject(portal, "deals", "9", nil)
	f.Associate(portal, "deals", "9", "contacts", "11", "12", "13", "14", "15")
	ids, err := c.Associations(context.Background(), portal, "DEAL", "9", "contacts")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "11,12,13,14,15" {
		t.Fatalf("ids = %v", ids)
	}
	calls := f.CallsTo("GET", "/crm/v4/objects/deals/9/associations/contacts")
	if len(calls) != 3 || calls[1].Query.Get("after") != "2" || calls[2].Query.Get("after") != "4" {
		t.Fatalf("pages: %d calls", len(calls))
	}
	var id hubspot.ID
	for _, raw := range []string{`123`, `"123"`} {
		if err := json.Unmarshal([]byte(raw), &id); err != nil || id != "123" {
			t.Fatalf("ID from %s = %q, %v", raw, id, err)
		}
	}
}

func TestFindPhoneFromDealContactThenCompany(t *testing.T) {
	f, c, _ := setup(t)
	props := []string{"mobilephone", "phone"}
	f.SetObject(portal, "deals", "1", map[string]string{"dealname": "big"})
	f.SetObject(portal, "contacts", "21", map[string]string{"firstname": "no phone"})
	f.SetObject(portal, "contacts", "22", map[string]string{"phone": "+33 1 23 45 67 89"})
	f.SetObject(portal, "companies", "31", map[string]string{"phone": "+33 9 99 99 99 99"})
	f.Associate(portal, "deals", "1", "contacts", "21", "22")
	f.Associate(portal, "deals", "1", "companies", "31")
	p, err := c.FindPhone(context.Background(), portal, "DEAL", "1", props)
	if err != nil || p.ObjectType != "contacts" || p.ObjectID != "22" || p.Property != "phone" {
		t.Fatalf("deal → contact: %+v, %v", p, err)
	}
	f.SetObject(portal, "deals", "2", nil)
	f.Associate(portal, "deals", "2", "contacts", "21")
	f.Associate(portal, "deals", "2", "companies", "31")
	p, err = c.FindPhone(context.Background(), portal, "DEAL", "2", props)
	if err != nil || p.ObjectType != "companies" || p.Number != "+33 9 99 99 99 99" {
		t.Fatalf("deal → company: %+v, %v", p, err)
	}
	f.SetObject(portal, "deals", "3", nil)
	if _, err := c.FindPhone(context.Background(), portal, "DEAL", "3", props); !errors.Is(err, hubspot.ErrNoPhone) {
		t.Fatalf("deal without phones: %v", err)
	}
	f.SetObject(portal, "contacts", "23", map[string]string{"mobilephone": "+33612345678", "phone": "+33123456789"})
	if p, err := c.FindPhone(context.Background(), portal, "CONTACT", "23", props); err != nil || p.Property != "mobilephone" {
		t.Fatalf("contact: %+v, %v", p, err)
	}
}

func TestCompleteCallbacks(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	out := map[string]string{"sms_status": "SMS_DELIVERED", "message_id": "m1"}
	if err := c.CompleteCallback(ctx, portal, "ap-1", out); err != nil {
		t.Fatal(err)
	}
	if err := c.CompleteCallback(ctx, portal, "ap-1", out); err != nil {
		t.Fatalf("an already completed callback counts as done: %v", err)
	}
	got := f.Completed("ap-1")
	if got == nil || got.Count != 2 || got.Outputs["hs_execution_state"] != "SUCCESS" || got.Outputs["sms_status"] != "SMS_DELIVERED" {
		t.Fatalf("completion = %+v", got)
	}
	c.BatchSize = 2
	var batch []hubspot.Completion
	for i := range 5 {
		batch = append(batch, hubspot.Completion{CallbackID: fmt.Sprintf("ap-b%d", i),
			Outputs: map[string]string{"hs_execution_state": "FAIL_CONTINUE", "error_code": "OPTED_OUT"}})
	}
	if err := c.CompleteCallbacks(ctx, portal, batch); err != nil {
		t.Fatal(err)
	}
	if n := len(f.CallsTo("POST", "/automation/v4/actions/callbacks/complete")); n != 3 {
		t.Fatalf("%d batch calls, want 3", n)
	}
	for i := range 5 {
		if got := f.Completed(fmt.Sprintf("ap-b%d", i)); got == nil || got.Outputs["error_code"] != "OPTED_OUT" {
			t.Fatalf("ap-b%d: %+v", i, got)
		}
	}
}

func TestTimelineEventsAreWrittenOnce(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	ev := hubspot.TimelineEvent{ID: hubspot.EventID("m1", "SMS_SENT"), TemplateID: "1001", ObjectID: "21", Tokens: map[string]string{"status": "SMS_SENT"}}
	for range 2 {
		if err := c.CreateTimelineEvent(ctx, portal, ev); err != nil {
			t.Fatal(err)
		}
	}
	more := []hubspot.TimelineEvent{ev, {ID: hubspot.EventID("m1", "SMS_DELIVERED"), TemplateID: "1002", ObjectID: "21", Tokens: map[string]string{}}}
	if err := c.CreateTimelineEvents(ctx, portal, more); err != nil {
		t.Fatalf("a batch with a duplicate: %v", err)
	}
	if evs := f.Events(); len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	bad := []hubspot.TimelineEvent{{ID: "x", ObjectID: "21", Tokens: map[string]string{}}}
	var be *hubspot.BatchError
	if err := c.CreateTimelineEvents(ctx, portal, bad); !errors.As(err, &be) {
		t.Fatalf("an event without template: %v", err)
	}
	f.TimelineForbidden = true
	if err := c.CreateTimelineEvent(ctx, portal, ev); !errors.Is(err, hubspot.ErrTimelineUnavailable) {
		t.Fatalf("403: %v", err)
	}
}

func TestEnsurePropertiesAndNoteFallback(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	c.NoteDedupProperty = "smsflow_event_id"
	if err := c.EnsureProperties(ctx, portal); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureProperties(ctx, portal); err != nil {
		t.Fatalf("second install (every create answers 409): %v", err)
	}
	conflicts := 0
	for _, call := range f.CallsTo("POST", "/crm/v3/properties/") {
		if call.Status == 409 {
			conflicts++
		}
	}
	if conflicts == 0 || !f.HasProperty(portal, "contacts", "smsflow_last_status") || !f.HasProperty(portal, "deals", "smsflow_opted_out") {
		t.Fatalf("conflicts %d, properties missing", conflicts)
	}
	f.SetObject(portal, "contacts", "21", nil)
	if err := c.UpdateProperties(ctx, portal, "contacts", "21", map[string]string{"smsflow_last_status": "SMS_SENT"}); err != nil {
		t.Fatalf("our property after install: %v", err)
	}
	note := hubspot.Note{EventID: hubspot.EventID("m1", "SMS_SENT"), ObjectType: "CONTACT", ObjectID: "21", Body: "SMS sent", Timestamp: time.Now()}
	for range 2 {
		if err := c.CreateNote(ctx, portal, note); err != nil {
			t.Fatal(err)
		}
	}
	notes := f.Notes()
	if len(notes) != 1 || notes[0].Properties["smsflow_event_id"] != note.EventID {
		t.Fatalf("notes = %+v", notes)
	}
	assoc, _ := json.Marshal(notes[0].Associations)
	if !strings.Contains(string(assoc), `"associationTypeId":202`) || !strings.Contains(string(assoc), `"id":"21"`) {
		t.Fatalf("note associations = %s", assoc)
	}
}

func TestParseConfigValues(t *testing.T) {
	p, err := hubspot.ParsePaths("timeline=/integrators/timeline/v3/, callbacks=/automation/actions/callbacks/2026-03")
	if err != nil || p.Timeline != "/integrators/timeline/v3" || p.Callbacks != "/automation/actions/callbacks/2026-03" || p.Objects != hubspot.DefaultPaths.Objects {
		t.Fatalf("ParsePaths = %+v, %v", p, err)
	}
	if _, err := hubspot.ParsePaths("nope=/x"); err == nil {
		t.Fatal("unknown path name accepted")
	}
	s, err := hubspot.ParseStatuses("404, 409")
	sort.Ints(s)
	if err != nil || len(s) != 2 || s[1] != 409 {
		t.Fatalf("ParseStatuses = %v, %v", s, err)
	}
	m, err := hubspot.ParseTemplates("sms_sent=1001,SMS_DELIVERED=1002")
	if err != nil || m["SMS_SENT"] != "1001" || m["SMS_DELIVERED"] != "1002" {
		t.Fatalf("ParseTemplates = %v, %v", m, err)
	}
}

func TestNoteOnAnUnsupportedObjectIsPermanent(t *testing.T) {
	c := hubspot.NewClient("http://127.0.0.1:1", hubspot.StaticTokens{1: "t"})
	err := c.CreateNote(context.Background(), 1, hubspot.Note{ObjectType: "2-1234", ObjectID: "9", Body: "x", Timestamp: time.Now()})
	var app *temporal.ApplicationError
	if !errors.As(hubspot.ActivityError(err), &app) || !app.NonRetryable() || app.Type() != hubspot.ErrTypePermanent {
		t.Fatalf("note on a custom object: %v; want a non-retryable %s", err, hubspot.ErrTypePermanent)
	}
}

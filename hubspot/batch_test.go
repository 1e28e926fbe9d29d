package hubspot_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"smsflow/hubspot"
	"smsflow/hubspot/hubspottest"
)

// A batch of timeline events: the written ones come back by id, a duplicate counts as written, a
// refused one is an item error; more than MaxBatchInputs is refused before any call.
func TestCreateTimelineEventBatch(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	first := hubspot.TimelineEvent{ID: "m1-sms_sent", TemplateID: "1001", ObjectID: "21", Tokens: map[string]string{"status": "SMS_SENT"}}
	if err := c.CreateTimelineEvent(ctx, portal, first); err != nil {
		t.Fatal(err)
	}
	res, err := c.CreateTimelineEventBatch(ctx, portal, []hubspot.TimelineEvent{first,
		{ID: "m1-sms_delivered", TemplateID: "1003", ObjectID: "21", Tokens: map[string]string{}},
		{ID: "m1-bad", ObjectID: "21", Tokens: map[string]string{}}, // no template
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Written)
	if !slices.Equal(res.Written, []string{"m1-sms_delivered", "m1-sms_sent"}) || len(res.Errors) != 1 || res.Errors[0].Category != "VALIDATION_ERROR" {
		t.Fatalf("batch result = %+v, want the new and the duplicate written, the bad one refused", res)
	}
	if n := len(f.CallsTo(http.MethodPost, "/crm/v3/timeline/events/batch/create")); n != 1 {
		t.Fatalf("%d batch calls, want 1", n)
	}
	too := make([]hubspot.TimelineEvent, hubspot.MaxBatchInputs+1)
	if _, err := c.CreateTimelineEventBatch(ctx, portal, too); err == nil {
		t.Fatal("101 inputs accepted")
	}
	f.TimelineForbidden = true
	if _, err := c.CreateTimelineEventBatch(ctx, portal, []hubspot.TimelineEvent{first}); !errors.Is(err, hubspot.ErrTimelineUnavailable) {
		t.Fatalf("403 on a batch: %v", err)
	}
}

// A batch update writes every existing record (200), names the missing ones (207), and is
// refused whole for a record named twice or a property that does not exist.
func TestUpdateRecordBatch(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	for _, id := range []string{"21", "22"} {
		f.SetObject(portal, "contacts", id, map[string]string{"firstname": "x"})
	}
	res, err := c.UpdateRecordBatch(ctx, portal, "CONTACT", []hubspot.RecordUpdate{
		{ID: "21", Properties: map[string]string{"firstname": "Ana"}}, {ID: "22", Properties: map[string]string{"firstname": "Bo"}}})
	if err != nil || !slices.Equal(res.Written, []string{"21", "22"}) || len(res.Errors) != 0 {
		t.Fatalf("batch update = %+v, %v", res, err)
	}
	if got := f.Object(portal, "contacts", "22")["firstname"]; got != "Bo" {
		t.Fatalf("contact 22 firstname = %q", got)
	}
	res, err = c.UpdateRecordBatch(ctx, portal, "contacts", []hubspot.RecordUpdate{
		{ID: "21", Properties: map[string]string{"firstname": "Al"}}, {ID: "99", Properties: map[string]string{"firstname": "No"}}})
	if err != nil || !slices.Equal(res.Written, []string{"21"}) || len(res.Errors) != 1 || !slices.Equal(res.Errors[0].IDs(), []string{"99"}) {
		t.Fatalf("batch with a missing record = %+v, %v; want 21 written, 99 refused by id", res, err)
	}
	var perm *hubspot.PermanentError
	if _, err := c.UpdateRecordBatch(ctx, portal, "contacts", []hubspot.RecordUpdate{
		{ID: "21", Properties: map[string]string{"firstname": "A"}}, {ID: "21", Properties: map[string]string{"firstname": "B"}}}); !errors.As(err, &perm) {
		t.Fatalf("a record named twice: %v, want a 400", err)
	}
	if _, err := c.UpdateRecordBatch(ctx, portal, "contacts", []hubspot.RecordUpdate{
		{ID: "21", Properties: map[string]string{"no_such_property": "A"}}}); !errors.As(err, &perm) {
		t.Fatalf("an unknown property: %v, want a 400", err)
	}
	if got := f.Object(portal, "contacts", "21")["firstname"]; got != "Al" {
		t.Fatalf("a refused batch changed contact 21: firstname = %q", got)
	}
}

// The fake's rate limits and faults apply to batch calls like to any other: the client waits out
// a TEN_SECONDLY 429, returns a DAILY one, and retries a 5xx.
func TestBatchCallsMeetFaults(t *testing.T) {
	cases := []struct {
		fault    hubspottest.Fault
		wantErr  func(error) bool
		attempts int
	}{
		{fault: hubspottest.Fault{Status: http.StatusTooManyRequests, Times: 1}, wantErr: func(err error) bool { return err == nil }, attempts: 2},
		{fault: hubspottest.Fault{Status: http.StatusTooManyRequests, Policy: "DAILY"}, attempts: 1, wantErr: func(err error) bool {
			var rl *hubspot.RateLimitedError
			return errors.As(err, &rl) && rl.Policy == hubspot.PolicyDaily
		}},
		{fault: hubspottest.Fault{Status: http.StatusServiceUnavailable, Times: 4}, attempts: 4, wantErr: func(err error) bool {
			var tmp *hubspot.TemporaryError
			return errors.As(err, &tmp) && tmp.Status == 503
		}},
	}
	for _, tc := range cases {
		for _, path := range []string{"/crm/v3/timeline/events/batch/create", "/crm/v3/objects/contacts/batch/update"} {
			t.Run(fmt.Sprintf("%d %s %s", tc.fault.Status, tc.fault.Policy, path), func(t *testing.T) {
				f, c, _ := setup(t)
				f.SetObject(portal, "contacts", "21", nil)
				fault := tc.fault
				fault.PathPrefix = path
				f.Inject(fault)
				var err error
				if path == "/crm/v3/timeline/events/batch/create" {
					_, err = c.CreateTimelineEventBatch(context.Background(), portal,
						[]hubspot.TimelineEvent{{ID: "e1", TemplateID: "1001", ObjectID: "21", Tokens: map[string]string{}}})
				} else {
					_, err = c.UpdateRecordBatch(context.Background(), portal, "contacts",
						[]hubspot.RecordUpdate{{ID: "21", Properties: map[string]string{"firstname": "A"}}})
				}
				if !tc.wantErr(err) {
					t.Fatalf("error %v", err)
				}
				if n := len(f.CallsTo(http.MethodPost, path)); n != tc.attempts {
					t.Fatalf("%d calls, want %d", n, tc.attempts)
				}
			})
		}
	}
}

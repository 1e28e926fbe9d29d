package activities_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"smsflow/activities"
	"smsflow/hubspot"
	"smsflow/hubspot/hubspottest"
	"smsflow/hubspotsync"
	"smsflow/outcome"
	"smsflow/store"
)

var sentAt = time.Date(2026, 3, 16, 9, 0, 5, 0, time.UTC)

// statusEvent is a status change of a message to contact 701.
func statusEvent(id string, status outcome.Status) *activities.StatusEvent {
	return &activities.StatusEvent{MessageID: id, PortalID: portal, ObjectType: "contact", ObjectID: "701", Channel: "sms",
		Phone: "+33612345678", Country: "FR", Sender: "ACME", Campaign: "spring", MessageType: "marketing",
		Text: "Soldes\nSTOP au 36180", Encoding: "GSM7", Segments: 1, Characters: 20, Status: status,
		Carrier: "sim", CarrierMessageID: "SM" + strings.ReplaceAll(id, "-", ""), At: sentAt}
}

// newContact creates contact 701, which the events are written on.
func newContact(s *stack) {
	s.hs.SetObject(portal, "contacts", "701", map[string]string{"mobilephone": "+33612345678"})
}

// A status change is written to the message log (row and event), as a timeline event with the
// status's template, and to the record's properties; a retried Publish changes nothing.
func TestPublishStatus(t *testing.T) {
	s := newStack(t, stackOptions{})
	newContact(s)
	id := newID()
	in := activities.PublishInput{Event: statusEvent(id, outcome.SMSSent)}
	before := len(s.hs.Calls())
	for try := range 2 {
		if err := s.acts.Publish(s.ctx, in); err != nil {
			t.Fatalf("Publish, try %d: %v", try+1, err)
		}
	}
	if calls := s.hs.Calls()[before:]; len(calls) != 0 {
		t.Errorf("Publish called HubSpot %d times (first %s %s), want never: its writes are queued", len(calls), calls[0].Method, calls[0].Path)
	}
	queued, err := s.db.OutboxOfMessage(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(queued) != 2 || queued[0].Kind != store.OutboxTimeline || queued[1].Kind != store.OutboxProperties ||
		queued[0].ObjectType != "contacts" || queued[0].ObjectID != "701" {
		t.Fatalf("outbox rows = %+v, want a timeline row and a properties row for contacts/701, once whatever the retries", queued)
	}
	if n := s.sync(t); n != 2 {
		t.Errorf("the sender finished %d rows, want 2", n)
	}
	m, err := s.db.GetMessage(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != string(outcome.SMSSent) || m.CarrierMessageID != in.Event.CarrierMessageID || m.SentAt == nil || !m.SentAt.Equal(sentAt) ||
		m.Campaign != "spring" || m.Text != in.Event.Text {
		t.Errorf("message row = %+v, want SMS_SENT at %s", m, sentAt)
	}
	evs, err := s.db.Events(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != "status" || evs[0].Status != string(outcome.SMSSent) || !evs[0].OccurredAt.Equal(sentAt) {
		t.Errorf("events = %+v, want one status event SMS_SENT", evs)
	}

	timeline := s.hs.Events()
	ev, ok := timeline[id+"-sms_sent"]
	if len(timeline) != 1 || !ok {
		t.Fatalf("timeline events = %v, want one with id %s-sms_sent", timeline, id)
	}
	tokens, _ := ev["tokens"].(map[string]any)
	if ev["eventTemplateId"] != "1001" || ev["objectId"] != "701" || tokens["text"] != in.Event.Text || tokens["campaign"] != "spring" ||
		tokens["segments"] != "1" || tokens["status"] != "SMS_SENT" {
		t.Errorf("timeline event = %v, want template 1001 on 701 with the message's tokens", ev)
	}
	if n := len(s.hs.Notes()); n != 0 {
		t.Errorf("%d notes, want none in timeline mode", n)
	}

	got := s.hs.Object(portal, "contacts", "701")
	want := map[string]string{
		hubspotsync.PropLastStatus: "SMS_SENT", hubspotsync.PropLastMessageID: id, hubspotsync.PropLastDestination: "+33612345678",
		hubspotsync.PropLastContent: in.Event.Text, hubspotsync.PropLastMessageDate: "2026-03-16T09:00:05Z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("record %s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{hubspotsync.PropOptedOut, hubspotsync.PropNumberInvalid} {
		if _, set := got[k]; set {
			t.Errorf("record %s set to %q without the flag", k, got[k])
		}
	}
}

// Timeline event or note: the portal's mode, the template configured for the status, HubSpot
// refusing timeline events to the app, and the event kinds a portal switched off (never the
// send event).
func TestPublishTimelineEventOrNote(t *testing.T) {
	cases := []struct {
		name      string
		arrange   func(t *testing.T, s *stack)
		status    outcome.Status
		scopes    []string // granted by the portal; nil: with timeline
		template  string   // of the timeline event; "" → none
		note      bool
		noteTitle string
	}{
		{name: "timeline mode", status: outcome.SMSDelivered, template: "1003"},
		{name: "fallback mode", arrange: func(t *testing.T, s *stack) {
			if err := s.db.SetPortalTimelineMode(s.ctx, portal, store.TimelineModeFallback); err != nil {
				t.Fatal(err)
			}
		}, status: outcome.SMSSent, note: true, noteTitle: "SMS SENT"},
		{name: "a status without a template", status: outcome.SMSResponse, note: true, noteTitle: "SMS RESPONSE"},
		{name: "a portal that did not grant the timeline scope", scopes: []string{"oauth", "automation"},
			status: outcome.SMSSent, note: true, noteTitle: "SMS SENT"},
		{name: "a portal whose scopes are not known", scopes: []string{}, status: outcome.SMSDelivered, note: true, noteTitle: "SMS DELIVERED"},
		{name: "timeline events refused to the app", arrange: func(t *testing.T, s *stack) { s.hs.TimelineForbidden = true },
			status: outcome.SMSSent, note: true, noteTitle: "SMS SENT"},
		{name: "delivered events switched off", arrange: disable("delivered", "clicked"), status: outcome.SMSDelivered},
		{name: "clicked events switched off", arrange: disable("delivered", "clicked"), status: outcome.SMSClicked},
		{name: "the send event is always written", arrange: disable("delivered", "clicked", "sent"), status: outcome.SMSSent, template: "1001"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t, stackOptions{Scopes: c.scopes})
			newContact(s)
			if c.arrange != nil {
				c.arrange(t, s)
			}
			id := newID()
			if err := s.acts.Publish(s.ctx, activities.PublishInput{Event: statusEvent(id, c.status)}); err != nil {
				t.Fatal(err)
			}
			s.sync(t)
			events := s.hs.Events()
			if c.template == "" && len(events) != 0 {
				t.Errorf("timeline events %v, want none", events)
			}
			if c.template != "" {
				ev := events[id+"-"+strings.ToLower(string(c.status))]
				if len(events) != 1 || ev["eventTemplateId"] != c.template {
					t.Errorf("timeline events %v, want one with template %s", events, c.template)
				}
			}
			notes := s.hs.Notes()
			if !c.note && len(notes) != 0 {
				t.Errorf("notes %+v, want none", notes)
			}
			if c.note {
				if len(notes) != 1 {
					t.Fatalf("notes %+v, want one", notes)
				}
				n := notes[0]
				body := n.Properties["hs_note_body"]
				assoc, _ := json.Marshal(n.Associations)
				if !strings.Contains(body, c.noteTitle) || !strings.Contains(body, id) || !strings.Contains(string(assoc), `"701"`) ||
					n.Properties["smsflow_event_id"] != id+"-"+strings.ToLower(string(c.status)) {
					t.Errorf("note = %+v, want %q about %s on contact 701", n, c.noteTitle, id)
				}
			}
			// The properties are written whatever the event kind.
			if got := s.hs.Object(portal, "contacts", "701")[hubspotsync.PropLastStatus]; got != string(c.status) {
				t.Errorf("record %s = %q, want %s", hubspotsync.PropLastStatus, got, c.status)
			}
		})
	}
}

func disable(kinds ...string) func(t *testing.T, s *stack) {
	return func(t *testing.T, s *stack) {
		if err := s.db.SetDisabledEvents(s.ctx, portal, kinds); err != nil {
			t.Fatal(err)
		}
	}
}

// A deal's message is written on the contact its phone came from; the carrier's verdicts set
// the record's flags.
func TestPublishTargetAndFlags(t *testing.T) {
	s := newStack(t, stackOptions{})
	newContact(s)
	s.hs.SetObject(portal, "deals", "801", map[string]string{"dealname": "Big deal"})
	id := newID()
	ev := statusEvent(id, outcome.SMSNotSent)
	ev.ObjectType, ev.ObjectID, ev.TargetType, ev.TargetID = "deal", "801", "contact", "701"
	ev.OptedOut, ev.NumberInvalid, ev.ErrorCode = true, true, outcome.NumberNotAssigned
	if err := s.acts.Publish(s.ctx, activities.PublishInput{Event: ev}); err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	contact := s.hs.Object(portal, "contacts", "701")
	if contact[hubspotsync.PropLastStatus] != "SMS_NOT_SENT" || contact[hubspotsync.PropOptedOut] != "true" || contact[hubspotsync.PropNumberInvalid] != "true" {
		t.Errorf("contact = %v, want SMS_NOT_SENT, opted out and number invalid", contact)
	}
	if deal := s.hs.Object(portal, "deals", "801"); deal[hubspotsync.PropLastStatus] != "" {
		t.Errorf("deal = %v, want it untouched", deal)
	}
	tl := s.hs.Events()[id+"-sms_not_sent"]
	tokens, _ := tl["tokens"].(map[string]any)
	if tl["objectId"] != "701" || tl["eventTemplateId"] != "1002" || tokens["error_code"] != string(outcome.NumberNotAssigned) {
		t.Errorf("timeline event = %v, want template 1002 on contact 701 with the error code", tl)
	}
	// The deal shows the message on its timeline too: as a note, the stack having no deal template.
	onDeal := 0
	for _, n := range s.hs.Notes() {
		for _, a := range n.Associations {
			to, _ := a["to"].(map[string]any)
			types, _ := a["types"].([]any)
			if to["id"] == "801" && len(types) == 1 && types[0].(map[string]any)["associationTypeId"] == float64(214) {
				onDeal++
			}
		}
	}
	if onDeal != 1 {
		t.Errorf("%d notes on deal 801, want its status change once", onDeal)
	}
	m, err := s.db.GetMessage(s.ctx, id)
	if err != nil || m.ObjectType != "deal" || m.ObjectID != "801" || m.ErrorCode != string(outcome.NumberNotAssigned) {
		t.Errorf("message row = %+v, %v; want the deal's message with its error code", m, err)
	}
}

// An opt-out puts the number on the suppression list (the next check refuses it); an opt-in
// takes it off.
func TestPublishOptOutThenOptIn(t *testing.T) {
	s := newStack(t, stackOptions{})
	const number = "+33612345678"
	check := func() outcome.Code {
		t.Helper()
		got, err := s.acts.CheckBeforeDispatch(s.ctx, checkInput(number, "FR", "transactional"))
		if err != nil {
			t.Fatal(err)
		}
		return got.ErrorCode
	}
	id := newID()
	if err := s.acts.Publish(s.ctx, activities.PublishInput{OptOut: &activities.OptOutInput{PortalID: portal, Phone: number, Reason: "stop_reply", MessageID: id}}); err != nil {
		t.Fatal(err)
	}
	if off, reason, err := s.db.Suppressed(s.ctx, portal, "sms", number); err != nil || !off || reason != "stop_reply" {
		t.Fatalf("after the opt-out: suppressed %v (%q), %v; want suppressed for stop_reply", off, reason, err)
	}
	if code := check(); code != outcome.OptedOut {
		t.Errorf("check after the opt-out = %q, want %s", code, outcome.OptedOut)
	}
	if err := s.acts.Publish(s.ctx, activities.PublishInput{OptOut: &activities.OptOutInput{PortalID: portal, Phone: number, OptIn: true}}); err != nil {
		t.Fatal(err)
	}
	if off, _, err := s.db.Suppressed(s.ctx, portal, "sms", number); err != nil || off {
		t.Fatalf("after the opt-in: suppressed %v, %v; want not", off, err)
	}
	if code := check(); code != "" {
		t.Errorf("check after the opt-in = %q, want none", code)
	}
}

// The blocked HubSpot action is completed with the outcome; a retried completion is not an error.
func TestPublishCompletesTheCallback(t *testing.T) {
	s := newStack(t, stackOptions{})
	newContact(s)
	id := newID()
	outputs := map[string]string{"sms_status": "SMS_SENT", "message_id": id, "segments": "1", "error_code": ""}
	in := activities.PublishInput{Event: statusEvent(id, outcome.SMSSent), Complete: &activities.CompleteInput{PortalID: portal, CallbackID: "cb-1", Outputs: outputs}}
	for try := range 2 {
		if err := s.acts.Publish(s.ctx, in); err != nil {
			t.Fatalf("Publish, try %d: %v", try+1, err)
		}
	}
	c := s.hs.Completed("cb-1")
	if c == nil {
		t.Fatal("callback cb-1 not completed")
	}
	if c.PortalID != portal || c.Outputs["sms_status"] != "SMS_SENT" || c.Outputs["message_id"] != id || c.Outputs["hs_execution_state"] != "SUCCESS" {
		t.Errorf("completion = %+v, want SUCCESS with the message's outputs", c)
	}
	// What it was completed with is recorded, for HubSpot executing the same callbackId again.
	rec, ok, err := s.db.ActionOutcome(s.ctx, id)
	if err != nil || !ok || rec["sms_status"] != "SMS_SENT" || rec["hs_execution_state"] != "SUCCESS" || rec["segments"] != "1" {
		t.Fatalf("recorded outcome = %v, %v, %v", rec, ok, err)
	}
}

// HubSpot faults. Publish calls HubSpot only to complete the action: a refused completion (4xx)
// is stored as a hubspot_error event and Publish goes on (the SMS is sent); a 5xx or a rate limit
// on it is an error Temporal retries. A fault on a timeline or properties write never fails
// Publish: the sender meets it, and a permanent refusal ends as a hubspot_error event of the
// message while the rest is written.
func TestPublishHubSpotFaults(t *testing.T) {
	const timeline, callback = "/crm/v3/timeline/", "/automation/v4/actions/callbacks/"
	cases := []struct {
		name      string
		fault     hubspottest.Fault
		errType   string // "" → Publish returns nil
		stored    string // source_event_id prefix of the stored hubspot_error event
		completed bool
	}{
		{name: "timeline 400", fault: hubspottest.Fault{PathPrefix: timeline, Status: http.StatusBadRequest, Times: 2},
			stored: "hubspot_sync:timeline:", completed: true},
		{name: "properties 404", fault: hubspottest.Fault{PathPrefix: "/crm/v3/objects/contacts/", Status: http.StatusNotFound, Times: 2},
			stored: "hubspot_sync:properties:", completed: true},
		{name: "timeline 503", fault: hubspottest.Fault{PathPrefix: timeline, Status: http.StatusServiceUnavailable, Times: 4}, completed: true},
		{name: "timeline 429 daily", fault: hubspottest.Fault{PathPrefix: timeline, Status: http.StatusTooManyRequests, Policy: "DAILY"}, completed: true},
		{name: "completion 400", fault: hubspottest.Fault{PathPrefix: callback, Status: http.StatusBadRequest},
			stored: "hubspot_complete:cb-2"},
		{name: "completion 503", fault: hubspottest.Fault{PathPrefix: callback, Status: http.StatusServiceUnavailable, Times: 4},
			errType: hubspot.ErrTypeTemporary},
		{name: "completion 429 daily", fault: hubspottest.Fault{PathPrefix: callback, Status: http.StatusTooManyRequests, Policy: "DAILY"},
			errType: hubspot.ErrTypeRateLimited},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			newContact(s)
			s.hs.Inject(c.fault)
			id := newID()
			err := s.acts.Publish(s.ctx, activities.PublishInput{Event: statusEvent(id, outcome.SMSSent),
				Complete: &activities.CompleteInput{PortalID: portal, CallbackID: "cb-2", Outputs: map[string]string{"sms_status": "SMS_SENT"}}})
			if c.errType == "" && err != nil {
				t.Fatalf("Publish: %v, want nil", err)
			}
			if c.errType != "" && (!retryable(err) || errorType(err) != c.errType) {
				t.Fatalf("Publish: %v (type %q), want a retryable %s", err, errorType(err), c.errType)
			}
			var app *temporal.ApplicationError
			if c.fault.Policy == "DAILY" && c.errType != "" && (!errors.As(err, &app) || app.NextRetryDelay() <= 0) {
				t.Errorf("a DAILY limit: %v, want a next retry delay", err)
			}
			s.sync(t)
			if m, err := s.db.GetMessage(s.ctx, id); err != nil || m.Status != string(outcome.SMSSent) {
				t.Errorf("message row = %+v, %v; want SMS_SENT whatever HubSpot did", m, err)
			}
			var stored []string
			rows, err := s.db.Pool.Query(s.ctx, `SELECT source_event_id, status, coalesce(message_id::text, '') FROM message_events WHERE kind = 'hubspot_error'`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var sid, status, mid string
				if err := rows.Scan(&sid, &status, &mid); err != nil {
					t.Fatal(err)
				}
				if status != hubspot.ErrTypePermanent {
					t.Errorf("hubspot_error %s has status %q, want %s", sid, status, hubspot.ErrTypePermanent)
				}
				if mid != id { // write and completion refusals alike belong to the message
					t.Errorf("hubspot_error %s is on message %q, want %s", sid, mid, id)
				}
				stored = append(stored, sid)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			switch {
			case c.stored == "" && len(stored) != 0:
				t.Errorf("hubspot_error events %v, want none", stored)
			case c.stored != "" && (len(stored) != 1 || !strings.HasPrefix(stored[0], c.stored)):
				t.Errorf("hubspot_error events %v, want one %s…", stored, c.stored)
			}
			if done := s.hs.Completed("cb-2") != nil; done != c.completed {
				t.Errorf("callback completed = %v, want %v", done, c.completed)
			}
		})
	}
}

// A disconnected portal: the message log is written, nothing is sent to HubSpot, nothing is
// completed, and Publish succeeds (nobody can complete the action; HubSpot expires it).
func TestPublishDisconnectedPortal(t *testing.T) {
	s := newStack(t, stackOptions{})
	newContact(s)
	if err := s.db.DisconnectPortal(s.ctx, portal); err != nil {
		t.Fatal(err)
	}
	before := len(s.hs.Calls())
	id := newID()
	err := s.acts.Publish(s.ctx, activities.PublishInput{Event: statusEvent(id, outcome.SMSNotSent),
		Complete: &activities.CompleteInput{PortalID: portal, CallbackID: "cb-3", Outputs: map[string]string{"sms_status": "SMS_NOT_SENT"}}})
	if err != nil {
		t.Fatalf("Publish: %v, want nil", err)
	}
	if n := s.sync(t); n != 2 {
		t.Errorf("the sender finished %d rows, want the 2 queued", n)
	}
	if calls := s.hs.Calls()[before:]; len(calls) != 0 {
		t.Errorf("HubSpot calls for a disconnected portal: %+v", calls)
	}
	queued, err := s.db.OutboxOfMessage(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queued {
		if q.DeadAt == nil || q.LastError != "portal disconnected" {
			t.Errorf("outbox row %s: dead at %v (%q), want dropped as portal disconnected", q.DedupeKey, q.DeadAt, q.LastError)
		}
	}
	if s.hs.Completed("cb-3") != nil {
		t.Error("callback completed for a disconnected portal")
	}
	if m, err := s.db.GetMessage(s.ctx, id); err != nil || m.Status != string(outcome.SMSNotSent) {
		t.Errorf("message row = %+v, %v; want SMS_NOT_SENT", m, err)
	}
}

// A portal whose install did not finish gets our properties created before the sender's first
// write.
func TestPublishFinishesAnUnfinishedInstall(t *testing.T) {
	s := newStack(t, stackOptions{NotSetUp: true})
	newContact(s)
	if s.hs.HasProperty(portal, "contacts", hubspotsync.PropLastStatus) {
		t.Fatal("property exists before the set-up")
	}
	id := newID()
	if err := s.acts.Publish(s.ctx, activities.PublishInput{Event: statusEvent(id, outcome.SMSSent)}); err != nil {
		t.Fatal(err)
	}
	s.sync(t)
	if got := s.hs.Object(portal, "contacts", "701")[hubspotsync.PropLastStatus]; got != "SMS_SENT" {
		t.Errorf("record %s = %q, want SMS_SENT", hubspotsync.PropLastStatus, got)
	}
	p, err := s.db.Portal(s.ctx, portal)
	if err != nil || p.PropertiesReadyAt == nil {
		t.Errorf("portal = %+v, %v; want properties_ready_at set", p, err)
	}
}

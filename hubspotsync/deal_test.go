package hubspotsync_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"smsflow/hubspotsync"
	"smsflow/outcome"
	"smsflow/store"
)

// publishForDeal records a change of a deal's message sent to contact 701: written on the
// contact, and shown on deal 9001's timeline by its own row.
func (e *env) publishForDeal(t *testing.T, m msg, status outcome.Status) {
	t.Helper()
	c := hubspotsync.Change{MessageID: m.id, PortalID: m.portal, ObjectType: "contact", ObjectID: m.contact, Status: status,
		At: e.clock.Now(), Tokens: map[string]string{"message_id": m.id, "status": string(status), "text": "Hello deal"}}
	timeline, record := hubspotsync.Outbox(c)
	deal := hubspotsync.AlsoOn(c, "deal", "9001")
	sent := m.sentAt
	row := store.Message{ID: m.id, PortalID: m.portal, ObjectType: "deal", ObjectID: "9001", Phone: "+33612345601", Text: "Hello deal",
		Status: string(status), SentAt: &sent}
	// Published twice, as a retried step would: each row is enqueued once.
	for range 2 {
		if err := e.db.Publish(e.ctx, store.Publication{Message: &row, Outbox: []store.OutboxItem{timeline, deal}, Record: &record}); err != nil {
			t.Fatal(err)
		}
	}
}

// associatedTo lists the records a note of the fake is associated with, as "typeId:id".
func associatedTo(n map[string]any) string {
	b, _ := json.Marshal(n)
	var a struct {
		To    struct{ ID string } `json:"to"`
		Types []struct {
			AssociationTypeID int `json:"associationTypeId"`
		} `json:"types"`
	}
	_ = json.Unmarshal(b, &a)
	if len(a.Types) == 0 {
		return a.To.ID
	}
	return fmt.Sprintf("%d:%s", a.Types[0].AssociationTypeID, a.To.ID)
}

func TestDealMessageOnTheDealTimeline(t *testing.T) {
	withDealTemplates := map[string]string{"SMS_SENT": "1001", "DEALS:SMS_SENT": "2001"}
	for _, c := range []struct {
		name      string
		scopes    []string
		templates map[string]string
		// want: the timeline events by object id and template, and the notes by association
		events map[string]string
		notes  []string
	}{
		{name: "notes", scopes: nil, templates: templates, notes: []string{"202:701", "214:9001"}},
		{name: "timeline with a deal template", scopes: timelineScopes, templates: withDealTemplates,
			events: map[string]string{"701": "1001", "9001": "2001"}},
		{name: "timeline without a deal template", scopes: timelineScopes, templates: templates,
			events: map[string]string{"701": "1001"}, notes: []string{"214:9001"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.scopes)
			e.sender.Templates = c.templates
			e.contacts(portal, "701")
			e.publishForDeal(t, newMsg("701", e.clock.Now()), outcome.SMSSent)
			e.drain(t)
			events := map[string]string{}
			for _, ev := range e.hs.Events() {
				events[ev["objectId"].(string)] = ev["eventTemplateId"].(string)
			}
			if len(events) != len(c.events) {
				t.Errorf("timeline events %v, want %v", events, c.events)
			}
			for id, tpl := range c.events {
				if events[id] != tpl {
					t.Errorf("event on %s with template %q, want %q (all: %v)", id, events[id], tpl, events)
				}
			}
			var notes []string
			for _, n := range e.hs.Notes() {
				for _, a := range n.Associations {
					notes = append(notes, associatedTo(a))
				}
			}
			if len(notes) != len(c.notes) {
				t.Fatalf("notes associated with %v, want %v", notes, c.notes)
			}
			for _, want := range c.notes {
				found := false
				for _, got := range notes {
					found = found || got == want
				}
				if !found {
					t.Errorf("no note associated with %s (notes: %v)", want, notes)
				}
			}
		})
	}
}

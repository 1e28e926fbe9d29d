package hubspotsync_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"smsflow/hubspot"
	"smsflow/hubspotsync"
	"smsflow/outcome"
)

// A portal without timeline events gets its status changes as notes, 100 per call.
func TestNotesWrittenInBatches(t *testing.T) {
	e := newEnv(t, []string{"oauth", "automation"})
	const n = 150
	for i := range n {
		id := strconv.Itoa(3000 + i)
		e.contacts(portal, id)
		e.publish(t, newMsg(id, e.clock.Now()), outcome.SMSSent, nil)
	}
	if got := e.drain(t); got != 2*n {
		t.Fatalf("finished %d rows, want %d", got, 2*n)
	}
	batches, single := e.calls("/crm/v3/objects/notes/batch/create"), 0
	for _, c := range e.calls("/crm/v3/objects/notes") {
		if c.Path == "/crm/v3/objects/notes" || c.Path == "/crm/v3/objects/notes/search" {
			single++
		}
	}
	if len(batches) != 2 || inputs(batches) != n || single != 0 {
		t.Errorf("%d note batches with %d inputs and %d other note calls; want 2 with %d and none", len(batches), inputs(batches), single, n)
	}
	ids := map[string]bool{}
	for _, note := range e.hs.Notes() {
		ids[note.Properties["smsflow_event_id"]] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct notes, want %d", len(ids), n)
	}
}

// Rows an earlier try may have written are searched for in one call, and a note found is not
// written twice.
func TestRetriedNotesSearchedOnceAndNotDuplicated(t *testing.T) {
	e := newEnv(t, []string{"oauth", "automation"})
	var first string
	for i := range 3 {
		id := strconv.Itoa(4000 + i)
		e.contacts(portal, id)
		m := newMsg(id, e.clock.Now())
		e.publish(t, m, outcome.SMSSent, nil)
		if i == 0 {
			first = m.id
		}
	}
	rows, err := e.db.OutboxOfMessage(e.ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	var item hubspotsync.TimelineItem
	if err := json.Unmarshal(rows[0].Payload, &item); err != nil {
		t.Fatal(err)
	}
	// An earlier try wrote the first note, and its fate was lost.
	if err := e.client.CreateNote(e.ctx, portal, hubspot.Note{EventID: item.ID, ObjectType: "contacts", ObjectID: "4000",
		Body: "earlier try", Timestamp: e.clock.Now(), FirstTry: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Pool.Exec(e.ctx, `UPDATE hubspot_outbox SET attempts = 1`); err != nil {
		t.Fatal(err)
	}
	before := len(e.hs.Calls())
	e.drain(t)
	searches := e.hs.CallsTo(http.MethodPost, "/crm/v3/objects/notes/search")
	batches := e.calls("/crm/v3/objects/notes/batch/create")
	if len(searches) != 1 || len(batches) != 1 || inputs(batches) != 2 {
		t.Errorf("%d searches and %d batches with %d inputs, want 1 search and 1 batch of 2 (%d calls in all)",
			len(searches), len(batches), inputs(batches), len(e.hs.Calls())-before)
	}
	count := 0
	for _, note := range e.hs.Notes() {
		if note.Properties["smsflow_event_id"] == item.ID {
			count++
		}
	}
	if count != 1 {
		t.Errorf("the first change has %d notes, want 1", count)
	}
}

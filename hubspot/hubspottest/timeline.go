package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// BatchLimit is the most inputs a batch call takes; more is a 400, as in HubSpot.
const BatchLimit = 100

// Events returns the timeline events by id.
func (f *Fake) Events() map[string]map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[string]any{}
	for k, v := range f.events {
		out[k] = v
	}
	return out
}

// timelineForbidden answers 403 when TimelineForbidden is set, as HubSpot does for an app that is
// not a timeline partner; it says whether it answered.
func (f *Fake) timelineForbidden(w http.ResponseWriter) bool {
	if f.TimelineForbidden {
		writeError(w, 403, "MISSING_SCOPES", "This app is not allowed to use timeline events")
		return true
	}
	return false
}

// createEvent is POST {timeline}/events.
func (f *Fake) createEvent(w http.ResponseWriter, _ *http.Request, portal int64, body []byte) {
	if f.timelineForbidden(w) {
		return
	}
	var ev map[string]any
	if json.Unmarshal(body, &ev) != nil {
		writeError(w, 400, "VALIDATION_ERROR", "invalid JSON")
		return
	}
	f.mu.Lock()
	status, resp := f.storeEvent(portal, ev)
	f.mu.Unlock()
	writeJSON(w, status, resp)
}

// createEvents is POST {timeline}/events/batch/create: 201 when every event was created, else 207
// with the errors next to the results.
func (f *Fake) createEvents(w http.ResponseWriter, _ *http.Request, portal int64, body []byte) {
	if f.timelineForbidden(w) {
		return
	}
	var in struct {
		Inputs []map[string]any `json:"inputs"`
	}
	if json.Unmarshal(body, &in) != nil {
		writeError(w, 400, "VALIDATION_ERROR", "invalid JSON")
		return
	}
	if len(in.Inputs) > BatchLimit {
		writeError(w, 400, "VALIDATION_ERROR", fmt.Sprintf("Batch size %d exceeds the limit of %d inputs", len(in.Inputs), BatchLimit))
		return
	}
	var results, errs []any
	f.mu.Lock()
	for _, ev := range in.Inputs {
		status, resp := f.storeEvent(portal, ev)
		if status == 201 {
			results = append(results, resp)
		} else {
			errs = append(errs, resp)
		}
	}
	f.mu.Unlock()
	out := map[string]any{"status": "COMPLETE", "results": results, "startedAt": f.now(), "completedAt": f.now()}
	status := 201
	if len(errs) > 0 {
		out["errors"], out["numErrors"], status = errs, len(errs), 207
	}
	writeJSON(w, status, out)
}

// storeEvent validates and stores one event, refusing an id already used; it returns the status
// and body HubSpot would answer for it. f.mu must be held.
func (f *Fake) storeEvent(portal int64, ev map[string]any) (int, map[string]any) {
	tmpl, _ := ev["eventTemplateId"].(string)
	_, ok := ev["tokens"].(map[string]any)
	if tmpl == "" || !ok {
		return 400, map[string]any{"status": "error", "category": "VALIDATION_ERROR", "message": "eventTemplateId and tokens are required", "correlationId": correlation()}
	}
	id, _ := ev["id"].(string)
	if id == "" {
		id = "gen-" + randomHex(8)
	}
	if _, dup := f.events[id]; dup {
		return 409, map[string]any{"status": "error", "category": "CONFLICT", "message": "An event with id " + id + " already exists", "correlationId": correlation(),
			"context": map[string]any{"id": []string{id}}}
	}
	out := map[string]any{}
	for k, v := range ev {
		out[k] = v
	}
	out["id"], out["objectType"], out["createdAt"], out["portalId"] = id, "contacts", f.now(), portal
	f.events[id] = out
	return 201, out
}

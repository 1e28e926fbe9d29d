package hubspottest

import (
	"encoding/json"
	"net/http"
)

// Completion is what a callback was completed with.
type Completion struct {
	PortalID int64
	Outputs  map[string]string
	Count    int // completions attempted, duplicates included
}

// Completed returns how a callback was completed (nil when it was not).
func (f *Fake) Completed(callbackID string) *Completion {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.completed[callbackID]
	if !ok {
		return nil
	}
	cp := *c
	return &cp
}

// validStates are the hs_execution_state values a completion may carry.
var validStates = map[string]bool{"SUCCESS": true, "FAIL_CONTINUE": true}

// complete records a completion, or counts it as a duplicate; f.mu must be held.
func (f *Fake) complete(portal int64, callbackID string, outputs map[string]string) (duplicate bool) {
	c, ok := f.completed[callbackID]
	if ok {
		c.Count++
		return true
	}
	f.completed[callbackID] = &Completion{PortalID: portal, Outputs: outputs, Count: 1}
	return false
}

// completeCallback is POST {callbacks}/{callbackId}/complete. Completing a completed callback is
// answered AlreadyCompletedStatus.
func (f *Fake) completeCallback(w http.ResponseWriter, r *http.Request, portal int64, body []byte) {
	id := r.PathValue("callbackID")
	var in struct {
		Outputs map[string]string `json:"outputFields"`
	}
	if json.Unmarshal(body, &in) != nil || !validStates[in.Outputs["hs_execution_state"]] {
		writeError(w, 400, "VALIDATION_ERROR", "hs_execution_state must be SUCCESS or FAIL_CONTINUE")
		return
	}
	f.mu.Lock()
	dup := f.complete(portal, id, in.Outputs)
	f.mu.Unlock()
	if dup {
		writeError(w, f.AlreadyCompletedStatus, "CONFLICT", "callback "+id+" was already completed")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// completeCallbacks is POST {callbacks}/complete, the batch: all inputs are checked before any is
// completed, and already-completed callbacks are left as they were.
func (f *Fake) completeCallbacks(w http.ResponseWriter, _ *http.Request, portal int64, body []byte) {
	var in struct {
		Inputs []struct {
			CallbackID string            `json:"callbackId"`
			Outputs    map[string]string `json:"outputFields"`
		} `json:"inputs"`
	}
	if json.Unmarshal(body, &in) != nil || len(in.Inputs) == 0 {
		writeError(w, 400, "VALIDATION_ERROR", "inputs expected")
		return
	}
	for _, c := range in.Inputs {
		if c.CallbackID == "" || !validStates[c.Outputs["hs_execution_state"]] {
			writeError(w, 400, "VALIDATION_ERROR", "each input needs a callbackId and hs_execution_state SUCCESS or FAIL_CONTINUE")
			return
		}
	}
	f.mu.Lock()
	for _, c := range in.Inputs {
		f.complete(portal, c.CallbackID, c.Outputs)
	}
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

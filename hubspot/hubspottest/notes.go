package hubspottest

import (
	"encoding/json"
	"net/http"
	"slices"
)

// Note is a note engagement created through the API.
type Note struct {
	PortalID     int64
	ID           string
	Properties   map[string]string
	Associations []map[string]any
}

// Notes returns the notes created.
func (f *Fake) Notes() []Note {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Note(nil), f.notes...)
}

// createNote is POST /crm/v3/objects/notes: hs_timestamp is required and every property must exist.
func (f *Fake) createNote(w http.ResponseWriter, _ *http.Request, portal int64, body []byte) {
	var in struct {
		Properties   map[string]string `json:"properties"`
		Associations []map[string]any  `json:"associations"`
	}
	if json.Unmarshal(body, &in) != nil || in.Properties["hs_timestamp"] == "" {
		writeError(w, 400, "VALIDATION_ERROR", "hs_timestamp is required")
		return
	}
	f.mu.Lock()
	for k := range in.Properties {
		if !f.knownProperty(portal, "notes", k) {
			f.mu.Unlock()
			writeError(w, 400, "VALIDATION_ERROR", "Property \""+k+"\" does not exist")
			return
		}
	}
	id := f.nextID()
	f.notes = append(f.notes, Note{PortalID: portal, ID: id, Properties: in.Properties, Associations: in.Associations})
	f.mu.Unlock()
	writeJSON(w, 201, map[string]any{"id": id, "properties": in.Properties, "createdAt": f.now(), "updatedAt": f.now(), "archived": false})
}

// createNotes is POST /crm/v3/objects/notes/batch/create: every input is checked as createNote
// checks one, and one bad input refuses the whole batch (400); otherwise 201 with each note.
func (f *Fake) createNotes(w http.ResponseWriter, _ *http.Request, portal int64, body []byte) {
	var in struct {
		Inputs []struct {
			Properties   map[string]string `json:"properties"`
			Associations []map[string]any  `json:"associations"`
		} `json:"inputs"`
	}
	if json.Unmarshal(body, &in) != nil || len(in.Inputs) == 0 || len(in.Inputs) > 100 {
		writeError(w, 400, "VALIDATION_ERROR", "1 to 100 inputs expected")
		return
	}
	f.mu.Lock()
	for _, n := range in.Inputs {
		if n.Properties["hs_timestamp"] == "" {
			f.mu.Unlock()
			writeError(w, 400, "VALIDATION_ERROR", "hs_timestamp is required")
			return
		}
		for k := range n.Properties {
			if !f.knownProperty(portal, "notes", k) {
				f.mu.Unlock()
				writeError(w, 400, "VALIDATION_ERROR", "Property \""+k+"\" does not exist")
				return
			}
		}
	}
	results := make([]any, 0, len(in.Inputs))
	for _, n := range in.Inputs {
		id := f.nextID()
		f.notes = append(f.notes, Note{PortalID: portal, ID: id, Properties: n.Properties, Associations: n.Associations})
		results = append(results, map[string]any{"id": id, "properties": n.Properties, "createdAt": f.now(), "updatedAt": f.now(), "archived": false})
	}
	f.mu.Unlock()
	writeJSON(w, 201, map[string]any{"status": "COMPLETE", "results": results, "startedAt": f.now(), "completedAt": f.now()})
}

// searchNotes is POST /crm/v3/objects/notes/search: the portal's notes matching one of the filter
// groups, where a group matches when all its filters do; EQ and IN are supported.
func (f *Fake) searchNotes(w http.ResponseWriter, _ *http.Request, portal int64, body []byte) {
	var in struct {
		FilterGroups []struct {
			Filters []struct {
				PropertyName, Operator, Value string
				Values                        []string
			} `json:"filters"`
		} `json:"filterGroups"`
	}
	if json.Unmarshal(body, &in) != nil {
		writeError(w, 400, "VALIDATION_ERROR", "invalid JSON")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var results []any
	for _, n := range f.notes {
		if n.PortalID != portal {
			continue
		}
		for _, g := range in.FilterGroups {
			all := true
			for _, flt := range g.Filters {
				v := n.Properties[flt.PropertyName]
				switch flt.Operator {
				case "EQ":
					all = all && v == flt.Value
				case "IN":
					all = all && slices.Contains(flt.Values, v)
				default:
					all = false
				}
			}
			if all {
				results = append(results, map[string]any{"id": n.ID, "properties": n.Properties})
				break
			}
		}
	}
	writeJSON(w, 200, map[string]any{"total": len(results), "results": results})
}

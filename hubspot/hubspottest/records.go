package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// SetObject creates or replaces a record's properties.
func (f *Fake) SetObject(portalID int64, objectType, id string, props map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := map[string]string{}
	for k, v := range props {
		p[k] = v
	}
	f.objects[objKey(portalID, objectType, id)] = p
}

// Object returns a copy of a record's properties (nil when missing).
func (f *Fake) Object(portalID int64, objectType, id string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[objKey(portalID, objectType, id)]
	if !ok {
		return nil
	}
	out := map[string]string{}
	for k, v := range o {
		out[k] = v
	}
	return out
}

// Associate links a record to others (e.g. a deal to its contacts).
func (f *Fake) Associate(portalID int64, fromType, fromID, toType string, toIDs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := objKey(portalID, fromType, fromID) + "/" + plural(toType)
	f.assocs[k] = append(f.assocs[k], toIDs...)
}

// HasProperty says whether a property was created (or is a HubSpot default).
func (f *Fake) HasProperty(portalID int64, objectType, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.knownProperty(portalID, objectType, name)
}

func objKey(portalID int64, objectType, id string) string {
	return strconv.FormatInt(portalID, 10) + "/" + plural(objectType) + "/" + id
}

// plural gives the path name of an object type from its singular, plural or numeric name.
func plural(t string) string {
	switch t = strings.ToLower(t); t {
	case "contact", "0-1":
		return "contacts"
	case "company", "0-2":
		return "companies"
	case "deal", "0-3":
		return "deals"
	case "ticket", "0-5":
		return "tickets"
	case "note", "0-4":
		return "notes"
	}
	return t
}

// defaultProperties are HubSpot properties every portal has (enough for our calls).
var defaultProperties = map[string]bool{"firstname": true, "lastname": true, "email": true, "phone": true, "mobilephone": true,
	"name": true, "dealname": true, "subject": true, "hs_note_body": true, "hs_timestamp": true, "country": true}

// knownProperty says whether a property exists on an object type of the portal; f.mu must be held.
func (f *Fake) knownProperty(portalID int64, objectType, name string) bool {
	return defaultProperties[name] || f.properties[strconv.FormatInt(portalID, 10)+"/"+plural(objectType)][name]
}

// record returns a record's properties, creating it through Records when that is set and the
// record is missing; f.mu must be held.
func (f *Fake) record(portal int64, typ, id string) (map[string]string, bool) {
	k := objKey(portal, typ, id)
	obj, ok := f.objects[k]
	if !ok && f.Records != nil {
		if props := f.Records(portal, plural(typ), id); props != nil {
			obj, ok = props, true
			f.objects[k] = obj
		}
	}
	return obj, ok
}

// writeRecord writes a record as HubSpot does.
func (f *Fake) writeRecord(w http.ResponseWriter, id string, props map[string]any) {
	writeJSON(w, 200, map[string]any{"id": id, "properties": props, "createdAt": f.now(), "updatedAt": f.now(), "archived": false})
}

// getObject is GET {objects}/{objectType}/{objectID}?properties=a,b: the asked properties the record
// has, null for the ones it lacks but its type knows, and none for unknown ones.
func (f *Fake) getObject(w http.ResponseWriter, r *http.Request, portal int64, _ []byte) {
	typ, id := r.PathValue("objectType"), r.PathValue("objectID")
	f.mu.Lock()
	defer f.mu.Unlock()
	obj, ok := f.record(portal, typ, id)
	if !ok {
		writeError(w, 404, "OBJECT_NOT_FOUND", "resource not found")
		return
	}
	props := map[string]any{"hs_object_id": id}
	for _, n := range strings.Split(r.URL.Query().Get("properties"), ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if v, ok := obj[n]; ok {
			props[n] = v
		} else if f.knownProperty(portal, typ, n) {
			props[n] = nil
		}
	}
	f.writeRecord(w, id, props)
}

// patchObject is PATCH {objects}/{objectType}/{objectID}: every property must exist (the first
// unknown one by name is reported); the answer carries all the record's properties.
func (f *Fake) patchObject(w http.ResponseWriter, r *http.Request, portal int64, body []byte) {
	typ, id := r.PathValue("objectType"), r.PathValue("objectID")
	f.mu.Lock()
	defer f.mu.Unlock()
	obj, ok := f.record(portal, typ, id)
	if !ok {
		writeError(w, 404, "OBJECT_NOT_FOUND", "resource not found")
		return
	}
	var in struct {
		Properties map[string]string `json:"properties"`
	}
	if json.Unmarshal(body, &in) != nil || in.Properties == nil {
		writeError(w, 400, "VALIDATION_ERROR", "properties expected")
		return
	}
	if n := f.unknownProperty(portal, typ, in.Properties); n != "" {
		writeError(w, 400, "VALIDATION_ERROR", "Property values were not valid: Property \""+n+"\" does not exist")
		return
	}
	for n, v := range in.Properties {
		obj[n] = v
	}
	props := map[string]any{"hs_object_id": id}
	for n, v := range obj {
		props[n] = v
	}
	f.writeRecord(w, id, props)
}

// batchUpdate is POST {objects}/{objectType}/batch/update: at most BatchLimit distinct records
// (a record named twice, or too many inputs, is a 400 for the batch); a property that does not
// exist fails the whole batch (400) as in a single update; a missing record is an error of its
// own (207, its id in the error's context) while the others are written (200 when all are).
func (f *Fake) batchUpdate(w http.ResponseWriter, r *http.Request, portal int64, body []byte) {
	typ := r.PathValue("objectType")
	var in struct {
		Inputs []struct {
			ID         string            `json:"id"`
			Properties map[string]string `json:"properties"`
		} `json:"inputs"`
	}
	if json.Unmarshal(body, &in) != nil {
		writeError(w, 400, "VALIDATION_ERROR", "invalid JSON")
		return
	}
	if len(in.Inputs) > BatchLimit {
		writeError(w, 400, "VALIDATION_ERROR", fmt.Sprintf("Batch size %d exceeds the limit of %d inputs", len(in.Inputs), BatchLimit))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[string]bool{}
	for _, u := range in.Inputs {
		if u.ID == "" || u.Properties == nil {
			writeError(w, 400, "VALIDATION_ERROR", "every input needs an id and properties")
			return
		}
		if seen[u.ID] {
			writeError(w, 400, "VALIDATION_ERROR", "Duplicate IDs found in batch input: ["+u.ID+"]. IDs must be unique")
			return
		}
		seen[u.ID] = true
		if n := f.unknownProperty(portal, typ, u.Properties); n != "" {
			writeError(w, 400, "VALIDATION_ERROR", "Property values were not valid: Property \""+n+"\" does not exist")
			return
		}
	}
	results, errs := []any{}, []any{}
	for _, u := range in.Inputs {
		obj, ok := f.record(portal, typ, u.ID)
		if !ok {
			errs = append(errs, map[string]any{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some " + plural(typ) + " objects, they may be deleted or not exist.",
				"context": map[string]any{"ids": []string{u.ID}}})
			continue
		}
		for n, v := range u.Properties {
			obj[n] = v
		}
		props := map[string]any{"hs_object_id": u.ID}
		for n, v := range obj {
			props[n] = v
		}
		results = append(results, map[string]any{"id": u.ID, "properties": props, "createdAt": f.now(), "updatedAt": f.now(), "archived": false})
	}
	out := map[string]any{"status": "COMPLETE", "results": results, "startedAt": f.now(), "completedAt": f.now()}
	status := 200
	if len(errs) > 0 {
		out["errors"], out["numErrors"], status = errs, len(errs), 207
	}
	writeJSON(w, status, out)
}

// propertyInput is the body of a property or property group creation.
type propertyInput struct {
	Name, Label, Type, FieldType, GroupName string
}

// decodePropertyInput reads a property (group false) or a property group (group true): both need a
// name and a label, a property also its type, field type and existing group.
func decodePropertyInput(w http.ResponseWriter, body []byte, group bool) (propertyInput, bool) {
	var in propertyInput
	if json.Unmarshal(body, &in) != nil || in.Name == "" || in.Label == "" || (!group && (in.Type == "" || in.FieldType == "" || in.GroupName == "")) {
		writeError(w, 400, "VALIDATION_ERROR", "name, label, type, fieldType and groupName are required")
		return in, false
	}
	return in, true
}

// createProperty is POST {properties}/{objectType}.
func (f *Fake) createProperty(w http.ResponseWriter, r *http.Request, portal int64, body []byte) {
	in, ok := decodePropertyInput(w, body, false)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pk := strconv.FormatInt(portal, 10) + "/" + plural(r.PathValue("objectType"))
	if !f.groups[pk+"/"+in.GroupName] {
		writeError(w, 400, "VALIDATION_ERROR", "group "+in.GroupName+" does not exist")
		return
	}
	if f.properties[pk] == nil {
		f.properties[pk] = map[string]bool{}
	}
	if f.properties[pk][in.Name] || defaultProperties[in.Name] {
		writeError(w, 409, "CONFLICT", "A property named '"+in.Name+"' already exists.")
		return
	}
	f.properties[pk][in.Name] = true
	writeJSON(w, 201, map[string]any{"name": in.Name, "label": in.Label, "type": in.Type, "fieldType": in.FieldType, "groupName": in.GroupName})
}

// createPropertyGroup is POST {properties}/{objectType}/groups.
func (f *Fake) createPropertyGroup(w http.ResponseWriter, r *http.Request, portal int64, body []byte) {
	in, ok := decodePropertyInput(w, body, true)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	gk := strconv.FormatInt(portal, 10) + "/" + plural(r.PathValue("objectType")) + "/" + in.Name
	if f.groups[gk] {
		writeError(w, 409, "CONFLICT", "A property group named '"+in.Name+"' already exists.")
		return
	}
	f.groups[gk] = true
	writeJSON(w, 201, map[string]any{"name": in.Name, "label": in.Label, "archived": false})
}

// associations is GET /crm/v4/objects/{fromType}/{fromID}/associations/{toType}, paged by ?limit=
// (at most 500, and AssocPageSize) and ?after= (an offset).
func (f *Fake) associations(w http.ResponseWriter, r *http.Request, portal int64, _ []byte) {
	fromType, fromID, toType := r.PathValue("fromType"), r.PathValue("fromID"), r.PathValue("toType")
	f.mu.Lock()
	_, exists := f.objects[objKey(portal, fromType, fromID)]
	ids := append([]string(nil), f.assocs[objKey(portal, fromType, fromID)+"/"+plural(toType)]...)
	f.mu.Unlock()
	if !exists {
		writeError(w, 404, "OBJECT_NOT_FOUND", "object not found")
		return
	}
	size := 500
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 && l < size {
		size = l
	}
	if f.AssocPageSize > 0 && f.AssocPageSize < size {
		size = f.AssocPageSize
	}
	start := 0
	if a := r.URL.Query().Get("after"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 || n > len(ids) {
			writeError(w, 400, "VALIDATION_ERROR", "invalid after")
			return
		}
		start = n
	}
	end := min(start+size, len(ids))
	results := []any{}
	for i, id := range ids[start:end] {
		var toID any = id
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && (start+i)%2 == 0 {
			toID = n // alternately a number and a string, as HubSpot's API moved from one to the other
		}
		results = append(results, map[string]any{"toObjectId": toID,
			"associationTypes": []any{map[string]any{"category": "HUBSPOT_DEFINED", "typeId": 3, "label": nil}}})
	}
	out := map[string]any{"results": results}
	if end < len(ids) {
		out["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(end),
			"link": fmt.Sprintf("%s?after=%d", r.URL.Path, end)}}
	}
	writeJSON(w, 200, out)
}

// unknownProperty is the first (by name) of props that the portal's object type does not have,
// "" when all exist. The caller holds f.mu.
func (f *Fake) unknownProperty(portal int64, typ string, props map[string]string) string {
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !f.knownProperty(portal, typ, n) {
			return n
		}
	}
	return ""
}

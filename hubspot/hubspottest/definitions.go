package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The developer-key APIs: an app's custom workflow action definitions and its timeline event
// templates, authenticated with the developer account's API key in ?hapikey= rather than an OAuth
// token, because they change the app itself rather than a portal's data. Paths served (routes.go):
//
//	GET/POST /automation/v4/actions/{appId}, GET/PATCH /automation/v4/actions/{appId}/{definitionId}
//	GET/POST {timeline}/{appId}/event-templates, GET/PUT {timeline}/{appId}/event-templates/{templateId}
//
// with {timeline} /crm/v3/timeline or /integrators/timeline/v3. Another method on those paths is
// answered 405.

// developer is the fake's state for those APIs, guarded by Fake.mu.
type developer struct {
	keys      map[string]map[int64]bool // developer API key → the apps its account owns
	actions   map[int64][]map[string]any
	templates map[int64][]map[string]any
}

func (d *developer) init() {
	if d.keys == nil {
		d.keys, d.actions, d.templates = map[string]map[int64]bool{}, map[int64][]map[string]any{}, map[int64][]map[string]any{}
	}
}

// AddDeveloperKey registers a developer account's API key and the apps that account owns.
func (f *Fake) AddDeveloperKey(key string, appIDs ...int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dev.init()
	if f.dev.keys[key] == nil {
		f.dev.keys[key] = map[int64]bool{}
	}
	for _, id := range appIDs {
		f.dev.keys[key][id] = true
	}
}

// ActionDefinitions returns copies of an app's custom action definitions, in creation order.
func (f *Fake) ActionDefinitions(appID int64) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cloneAll(f.dev.actions[appID])
}

// TimelineTemplates returns copies of an app's timeline event templates, in creation order.
func (f *Fake) TimelineTemplates(appID int64) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cloneAll(f.dev.templates[appID])
}

// devFunc answers a developer-key call for an app the key's account owns; body is the request body.
type devFunc func(w http.ResponseWriter, r *http.Request, appID int64, body []byte)

// developer is the developer-key gate: the {appID} path segment must be a number (404), ?hapikey=
// a known key (401) whose account owns the app (403); then an injected fault. These calls do not
// count against a portal's rate limit.
func (f *Fake) developer(h devFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		appSeg := r.PathValue("appID")
		appID, err := strconv.ParseInt(appSeg, 10, 64)
		if err != nil {
			writeError(w, 404, "OBJECT_NOT_FOUND", "app "+appSeg+" not found")
			return
		}
		key := r.URL.Query().Get("hapikey")
		f.mu.Lock()
		f.dev.init()
		owned, known := f.dev.keys[key]
		f.mu.Unlock()
		switch {
		case key == "":
			writeError(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports both API Key and OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
			return
		case !known:
			// HubSpot's wording for a wrong key, as commonly quoted; the exact text is UNCONFIRMED.
			writeError(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "The API key provided is invalid. View or manage your API key here: https://app.hubspot.com/l/api-key/")
			return
		case !owned[appID]:
			// What HubSpot answers for a valid key of another developer account is UNCONFIRMED.
			writeError(w, http.StatusForbidden, "FORBIDDEN", fmt.Sprintf("The developer account of this API key does not own app %d", appID))
			return
		}
		if f.fault(w, r) {
			return
		}
		h(w, r, appID, exchangeOf(r).body)
	})
}

// actionsGate sends /automation/v4/actions/callbacks[/...] to the API as an unknown call: those
// paths belong to the callbacks API (OAuth), not to an app named "callbacks".
func (f *Fake) actionsGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("appID") == "callbacks" {
			f.api(f.notFound).ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// timelineAllowed answers 403 to template calls when TimelineForbidden is set, whatever the method.
func (f *Fake) timelineAllowed(h devFunc) devFunc {
	return func(w http.ResponseWriter, r *http.Request, appID int64, body []byte) {
		if f.timelineForbidden(w) {
			return
		}
		h(w, r, appID, body)
	}
}

// methodNotAllowed answers a developer-key path with a method it does not serve.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, _ int64, _ []byte) {
	writeError(w, 405, "METHOD_NOT_ALLOWED", r.Method+" is not supported here")
}

// listActions is GET /automation/v4/actions/{appId}, paged.
func (f *Fake) listActions(w http.ResponseWriter, r *http.Request, appID int64, _ []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, 200, page(f.dev.actions[appID], r.URL.Query(), r.URL.Path))
}

// createAction is POST /automation/v4/actions/{appId}; a new action is unpublished unless the body
// says otherwise.
func (f *Fake) createAction(w http.ResponseWriter, _ *http.Request, appID int64, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	def, msg := decodeObject(body)
	if msg == "" {
		if def["published"] == nil {
			def["published"] = false
		}
		msg = validAction(def)
	}
	if msg != "" {
		writeError(w, 400, "VALIDATION_ERROR", msg)
		return
	}
	def["id"], def["revisionId"] = f.nextID(), "1"
	if def["functions"] == nil {
		def["functions"] = []any{}
	}
	f.dev.actions[appID] = append(f.dev.actions[appID], def)
	writeJSON(w, 201, clone(def))
}

// getAction is GET /automation/v4/actions/{appId}/{definitionId}.
func (f *Fake) getAction(w http.ResponseWriter, r *http.Request, appID int64, _ []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defs := f.dev.actions[appID]
	i := indexOf(defs, r.PathValue("definitionID"))
	if i < 0 {
		writeError(w, 404, "OBJECT_NOT_FOUND", "action definition "+r.PathValue("definitionID")+" not found")
		return
	}
	writeJSON(w, 200, clone(defs[i]))
}

// patchAction is PATCH /automation/v4/actions/{appId}/{definitionId}: the body's fields replace
// the definition's (not id or revisionId), and the revision goes up by one.
func (f *Fake) patchAction(w http.ResponseWriter, r *http.Request, appID int64, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defs := f.dev.actions[appID]
	i := indexOf(defs, r.PathValue("definitionID"))
	if i < 0 {
		writeError(w, 404, "OBJECT_NOT_FOUND", "action definition "+r.PathValue("definitionID")+" not found")
		return
	}
	patch, msg := decodeObject(body)
	merged := clone(defs[i])
	for k, v := range patch {
		if k != "id" && k != "revisionId" {
			merged[k] = v
		}
	}
	if msg == "" {
		msg = validAction(merged)
	}
	if msg != "" {
		writeError(w, 400, "VALIDATION_ERROR", msg)
		return
	}
	rev, _ := strconv.Atoi(fmt.Sprint(merged["revisionId"]))
	merged["revisionId"] = strconv.Itoa(rev + 1)
	defs[i] = merged
	writeJSON(w, 200, clone(merged))
}

// validAction checks what HubSpot requires of a definition: an absolute actionUrl, English labels
// with an action name, and a boolean published.
func validAction(def map[string]any) string {
	u, _ := def["actionUrl"].(string)
	if p, err := url.Parse(u); u == "" || err != nil || p.Scheme == "" || p.Host == "" {
		return fmt.Sprintf("actionUrl %q is not a valid URL", u)
	}
	labels, _ := def["labels"].(map[string]any)
	en, _ := labels["en"].(map[string]any)
	if name, _ := en["actionName"].(string); name == "" {
		return "labels.en.actionName is required"
	}
	if _, ok := def["published"].(bool); !ok {
		return "published must be a boolean"
	}
	return ""
}

var templateObjectTypes = map[string]bool{"contacts": true, "companies": true, "deals": true, "tickets": true}
var tokenTypes = map[string]bool{"string": true, "number": true, "date": true, "enumeration": true}

// listTemplates is GET {timeline}/{appId}/event-templates, unpaged.
func (f *Fake) listTemplates(w http.ResponseWriter, _ *http.Request, appID int64, _ []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"results": cloneAll(f.dev.templates[appID])})
}

// createTemplate is POST {timeline}/{appId}/event-templates.
func (f *Fake) createTemplate(w http.ResponseWriter, _ *http.Request, appID int64, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, msg := decodeObject(body)
	if msg == "" {
		if ot, _ := t["objectType"].(string); !templateObjectTypes[strings.ToLower(ot)] {
			msg = fmt.Sprintf("objectType %q is not one of contacts, companies, deals, tickets", ot)
		} else {
			msg = validTemplate(t)
		}
	}
	if msg != "" {
		writeError(w, 400, "VALIDATION_ERROR", msg)
		return
	}
	now := f.now().UTC().Format(time.RFC3339Nano)
	t["id"], t["createdAt"], t["updatedAt"] = f.nextID(), now, now
	f.dev.templates[appID] = append(f.dev.templates[appID], t)
	writeJSON(w, 201, clone(t))
}

// getTemplate is GET {timeline}/{appId}/event-templates/{templateId}.
func (f *Fake) getTemplate(w http.ResponseWriter, r *http.Request, appID int64, _ []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := f.dev.templates[appID]
	i := indexOf(list, r.PathValue("templateID"))
	if i < 0 {
		writeError(w, 404, "OBJECT_NOT_FOUND", "event template "+r.PathValue("templateID")+" not found")
		return
	}
	writeJSON(w, 200, clone(list[i]))
}

// updateTemplate is PUT {timeline}/{appId}/event-templates/{templateId}: the body is a whole
// template with its id; its name, header, detail and tokens replace the stored ones.
func (f *Fake) updateTemplate(w http.ResponseWriter, r *http.Request, appID int64, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := r.PathValue("templateID")
	list := f.dev.templates[appID]
	i := indexOf(list, id)
	if i < 0 {
		writeError(w, 404, "OBJECT_NOT_FOUND", "event template "+id+" not found")
		return
	}
	t, msg := decodeObject(body)
	if msg == "" && fmt.Sprint(t["id"]) != id {
		msg = "id in the body must be the template id " + id // the update body requires it
	}
	if msg == "" {
		msg = validTemplate(t)
	}
	if msg != "" {
		writeError(w, 400, "VALIDATION_ERROR", msg)
		return
	}
	updated := clone(list[i])
	for _, k := range []string{"name", "headerTemplate", "detailTemplate", "tokens"} {
		if v, ok := t[k]; ok {
			updated[k] = v
		}
	}
	updated["updatedAt"] = f.now().UTC().Format(time.RFC3339Nano)
	list[i] = updated
	writeJSON(w, 200, clone(updated))
}

// validTemplate checks the name and the tokens (name, label, a known type, options for enumerations).
func validTemplate(t map[string]any) string {
	if name, _ := t["name"].(string); name == "" {
		return "name is required"
	}
	tokens, ok := t["tokens"].([]any)
	if !ok {
		return "tokens is required"
	}
	for _, raw := range tokens {
		tok, _ := raw.(map[string]any)
		name, _ := tok["name"].(string)
		label, _ := tok["label"].(string)
		typ, _ := tok["type"].(string)
		if name == "" || label == "" || !tokenTypes[typ] {
			return fmt.Sprintf("token %q needs a name, a label and a type among string, number, date, enumeration", name)
		}
		if opts, _ := tok["options"].([]any); typ == "enumeration" && len(opts) == 0 {
			return fmt.Sprintf("enumeration token %q needs options", name)
		}
	}
	return ""
}

// page answers a forward-paged list: ?limit= (default 20) and ?after= an offset.
func page(all []map[string]any, q url.Values, path string) map[string]any {
	limit := 20
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = min(l, 100)
	}
	start := 0
	if a, err := strconv.Atoi(q.Get("after")); err == nil && a > 0 && a <= len(all) {
		start = a
	}
	end := min(start+limit, len(all))
	out := map[string]any{"results": cloneAll(all[start:end])}
	if end < len(all) {
		out["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(end), "link": fmt.Sprintf("%s?after=%d", path, end)}}
	}
	return out
}

func decodeObject(body []byte) (map[string]any, string) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, "invalid JSON body"
	}
	return m, ""
}

func indexOf(list []map[string]any, id string) int {
	for i, m := range list {
		if m["id"] == id {
			return i
		}
	}
	return -1
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func cloneAll(list []map[string]any) []map[string]any {
	out := make([]map[string]any, 0, len(list))
	for _, m := range list {
		out = append(out, clone(m))
	}
	return out
}

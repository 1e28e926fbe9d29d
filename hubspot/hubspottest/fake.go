// Package hubspottest is a fake HubSpot for tests and for `make run` (cmd/fakehubspot). It plays
// both roles of ../shared/reference/hubspot-api.md ("What a faithful fake HubSpot server must
// implement"): the API our client calls (OAuth tokens, callback completion, timeline events,
// records, associations v4, properties, notes, account details) with injectable 429s, 5xx and
// slow answers, recording every call; and the caller that signs and POSTs action executions to our
// API (caller.go).
package hubspottest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultPortal is the portal the fake's authorize page installs when none is asked for.
const DefaultPortal int64 = 62515

// Call is one request the fake received.
type Call struct {
	Method, Path  string
	Query         url.Values
	Body          []byte
	Authorization string
	PortalID      int64 // from the bearer token; 0 when none
	Status        int   // what the fake answered
}

// Fault is an injected answer for the next Times calls whose path starts with PathPrefix (all
// paths when empty): a 429 of Policy (TEN_SECONDLY_ROLLING, DAILY, or SECONDLY for the search
// style), a 5xx, or a Delay before answering (a timeout for a client with a shorter one).
type Fault struct {
	PathPrefix string
	Status     int
	Policy     string
	RetryAfter string // Retry-After header value (seconds); empty: none, as HubSpot usually does
	Delay      time.Duration
	Times      int
}

// Completion is what a callback was completed with.
type Completion struct {
	PortalID int64
	Outputs  map[string]string
	Count    int // completions attempted, duplicates included
}

// Note is a note engagement created through the API.
type Note struct {
	PortalID     int64
	ID           string
	Properties   map[string]string
	Associations []map[string]any
}

type token struct {
	portal  int64
	expires time.Time // zero: never (private app)
	scopes  []string
}

// Fake is the fake HubSpot; the zero value is not usable, use New or NewServer.
type Fake struct {
	ClientID, ClientSecret string
	TokenTTL               time.Duration // access token life, default 30 minutes
	// RateLimit is the per-portal budget per 10 s (HubSpot: 110 for OAuth apps); 0 disables it.
	RateLimit int
	// AlreadyCompletedStatus answers the completion of a completed callback (UNCONFIRMED: 409).
	AlreadyCompletedStatus int
	// TimelineForbidden answers 403 to timeline calls, like HubSpot for non-partner apps.
	TimelineForbidden bool
	// AssocPageSize caps association pages (default 100) so tests see paging.
	AssocPageSize int
	// Now is the fake's clock.
	Now func() time.Time
	// Records, when set, creates a record on first use with the properties it returns (a local run
	// needs no seeding); nil: unknown records are 404 as in HubSpot.
	Records func(portalID int64, objectType, id string) map[string]string

	URL string // base URL when started by NewServer

	mu         sync.Mutex
	calls      []Call
	faults     []*Fault
	tokens     map[string]token
	refresh    map[string]int64 // refresh token → portal
	revoked    map[string]bool
	codes      map[string]int64
	refreshes  map[int64]int
	completed  map[string]*Completion
	events     map[string]map[string]any
	objects    map[string]map[string]string // "portal/type/id" → properties
	assocs     map[string][]string          // "portal/type/id/toType" → ids
	properties map[string]map[string]bool   // "portal/type" → names
	groups     map[string]bool              // "portal/type/group"
	notes      []Note
	timeZones  map[int64]string
	window     map[int64][]time.Time
	seq        int
	dev        developer // developer-key APIs (definitions.go)
}

// New returns a fake with the given app credentials.
func New(clientID, clientSecret string) *Fake {
	return &Fake{ClientID: clientID, ClientSecret: clientSecret, AlreadyCompletedStatus: http.StatusConflict,
		tokens: map[string]token{}, refresh: map[string]int64{}, revoked: map[string]bool{}, codes: map[string]int64{},
		refreshes: map[int64]int{}, completed: map[string]*Completion{}, events: map[string]map[string]any{},
		objects: map[string]map[string]string{}, assocs: map[string][]string{}, properties: map[string]map[string]bool{},
		groups: map[string]bool{}, timeZones: map[int64]string{}, window: map[int64][]time.Time{}}
}

// NewServer starts a fake on a local port for the test and stops it at the end.
func NewServer(t testing.TB, clientID, clientSecret string) *Fake {
	f := New(clientID, clientSecret)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Inject queues a fault.
func (f *Fake) Inject(fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fault.Times <= 0 {
		fault.Times = 1
	}
	f.faults = append(f.faults, &fault)
}

// AddToken registers an access token for a portal; ttl 0 means it never expires (private app).
func (f *Fake) AddToken(portalID int64, accessToken string, ttl time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := token{portal: portalID}
	if ttl > 0 {
		t.expires = f.now().Add(ttl)
	}
	f.tokens[accessToken] = t
}

// IssueCode returns an authorization code that installs the app in portalID.
func (f *Fake) IssueCode(portalID int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := "code-" + randomHex(8)
	f.codes[c] = portalID
	return c
}

// RevokeRefreshTokens revokes every refresh token of the portal (an uninstall).
func (f *Fake) RevokeRefreshTokens(portalID int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for r, p := range f.refresh {
		if p == portalID {
			f.revoked[r] = true
		}
	}
}

// Refreshes counts the refresh-token grants of a portal.
func (f *Fake) Refreshes(portalID int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes[portalID]
}

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

// SetTimeZone sets a portal's time zone setting.
func (f *Fake) SetTimeZone(portalID int64, tz string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timeZones[portalID] = tz
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

// Notes returns the notes created.
func (f *Fake) Notes() []Note {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Note(nil), f.notes...)
}

// HasProperty says whether a property was created (or is a HubSpot default).
func (f *Fake) HasProperty(portalID int64, objectType, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.knownProperty(portalID, objectType, name)
}

// Calls returns every call received, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// CallsTo returns the calls of a method whose path starts with prefix.
func (f *Fake) CallsTo(method, prefix string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Method == method && strings.HasPrefix(c.Path, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func objKey(portalID int64, objectType, id string) string {
	return strconv.FormatInt(portalID, 10) + "/" + plural(objectType) + "/" + id
}

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

func (f *Fake) knownProperty(portalID int64, objectType, name string) bool {
	return defaultProperties[name] || f.properties[strconv.FormatInt(portalID, 10)+"/"+plural(objectType)][name]
}

func correlation() string { return randomHex(16) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, category, message string) {
	writeJSON(w, status, map[string]any{"status": "error", "message": message, "category": category, "correlationId": correlation()})
}

// recorder captures the status for the call log.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }

// ServeHTTP answers like HubSpot.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	rec := &recorder{ResponseWriter: w, status: 200}
	call := Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body, Authorization: r.Header.Get("Authorization")}
	defer func() {
		call.Status = rec.status
		f.mu.Lock()
		f.calls = append(f.calls, call)
		f.mu.Unlock()
	}()
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/oauth/"):
		f.serveOAuth(rec, r, body)
		return
	case isDeveloperPath(path):
		f.serveDeveloper(rec, r, body)
		return
	}
	portal, ok := f.authorize(rec, r)
	call.PortalID = portal
	if !ok {
		return
	}
	if f.fault(rec, r) || f.limited(rec, portal) {
		return
	}
	f.serveAPI(rec, r, portal, body)
}

func (f *Fake) authorize(w http.ResponseWriter, r *http.Request) (int64, bool) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	f.mu.Lock()
	t, known := f.tokens[tok]
	f.mu.Unlock()
	if !ok || !known || (!t.expires.IsZero() && !f.now().Before(t.expires)) {
		writeError(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
		return t.portal, false
	}
	return t.portal, true
}

func (f *Fake) fault(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	var hit *Fault
	for i, ft := range f.faults {
		if strings.HasPrefix(r.URL.Path, ft.PathPrefix) {
			ft.Times--
			if ft.Times <= 0 {
				f.faults = append(f.faults[:i], f.faults[i+1:]...)
			}
			hit = ft
			break
		}
	}
	f.mu.Unlock()
	if hit == nil {
		return false
	}
	if hit.Delay > 0 {
		select {
		case <-time.After(hit.Delay):
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case hit.Status == http.StatusTooManyRequests:
		writeRateLimited(w, hit.Policy, hit.RetryAfter, 0, 0)
	case hit.Status != 0:
		writeError(w, hit.Status, "INTERNAL_ERROR", "internal error")
	default:
		return false // a pure delay: answer normally afterwards
	}
	return true
}

// writeRateLimited writes HubSpot's 429 with the body and headers of the policy.
func writeRateLimited(w http.ResponseWriter, policy, retryAfter string, max, remaining int) {
	body := map[string]any{"status": "error", "errorType": "RATE_LIMIT", "correlationId": correlation()}
	switch policy {
	case "DAILY":
		body["message"], body["policyName"] = "You have reached your daily limit.", "DAILY"
		body["requestId"] = correlation()
	case "SECONDLY":
		body["message"] = "You have reached your secondly limit."
	default:
		body["message"], body["policyName"] = "You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING"
		body["groupName"] = "publicapi:oauth-api-calls-ten-secondly:" + randomHex(3)
	}
	if max == 0 {
		max = 110
	}
	w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	w.Header().Set("X-HubSpot-RateLimit-Max", strconv.Itoa(max))
	w.Header().Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, http.StatusTooManyRequests, body)
}

// limited applies the token bucket (RateLimit per rolling 10 s per portal).
func (f *Fake) limited(w http.ResponseWriter, portal int64) bool {
	if f.RateLimit <= 0 {
		return false
	}
	f.mu.Lock()
	now := f.now()
	win := f.window[portal]
	i := 0
	for i < len(win) && now.Sub(win[i]) >= 10*time.Second {
		i++
	}
	win = win[i:]
	over := len(win) >= f.RateLimit
	if !over {
		win = append(win, now)
	}
	f.window[portal] = win
	remaining := f.RateLimit - len(win)
	f.mu.Unlock()
	if over {
		writeRateLimited(w, "TEN_SECONDLY_ROLLING", "", f.RateLimit, 0)
		return true
	}
	w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	w.Header().Set("X-HubSpot-RateLimit-Max", strconv.Itoa(f.RateLimit))
	w.Header().Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
	return false
}

func (f *Fake) serveOAuth(w http.ResponseWriter, r *http.Request, body []byte) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/oauth/authorize":
		// The user approves at once: back to redirect_uri with a code for ?portal= (or DefaultPortal).
		portal := DefaultPortal
		if p, err := strconv.ParseInt(r.URL.Query().Get("portal"), 10, 64); err == nil {
			portal = p
		}
		if r.URL.Query().Get("client_id") != f.ClientID {
			http.Error(w, "unknown client_id", http.StatusBadRequest)
			return
		}
		u, err := url.Parse(r.URL.Query().Get("redirect_uri"))
		if err != nil || u.Scheme == "" {
			http.Error(w, "bad redirect_uri", http.StatusBadRequest)
			return
		}
		q := u.Query()
		q.Set("code", f.IssueCode(portal))
		if s := r.URL.Query().Get("state"); s != "" {
			q.Set("state", s)
		}
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	case r.Method == http.MethodPost && (r.URL.Path == "/oauth/v1/token" || r.URL.Path == "/oauth/v3/token"):
		f.serveToken(w, r, body)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/oauth/v1/access-tokens/"):
		tok := strings.TrimPrefix(r.URL.Path, "/oauth/v1/access-tokens/")
		f.mu.Lock()
		t, ok := f.tokens[tok]
		f.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "token not found")
			return
		}
		writeJSON(w, 200, map[string]any{"token": tok, "hub_id": t.portal, "scopes": t.scopes, "token_type": "access",
			"expires_in": int(time.Until(t.expires).Seconds()), "app_id": 1})
	default:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such OAuth endpoint")
	}
}

func (f *Fake) serveToken(w http.ResponseWriter, r *http.Request, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		writeJSON(w, 400, map[string]any{"status": "BAD_REQUEST", "message": "form body expected", "correlationId": correlation()})
		return
	}
	if form.Get("client_id") != f.ClientID || form.Get("client_secret") != f.ClientSecret {
		writeJSON(w, 400, map[string]any{"status": "BAD_CLIENT_ID", "message": "missing or unknown client id", "correlationId": correlation()})
		return
	}
	ttl := f.TokenTTL
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	scopes := []string{"oauth", "automation", "crm.objects.contacts.read", "crm.objects.contacts.write"}
	portal, refresh, errStatus := f.grant(form)
	if errStatus != "" {
		writeJSON(w, 400, map[string]any{"status": errStatus, "message": "missing or unknown " + strings.ToLower(strings.TrimPrefix(errStatus, "BAD_")), "correlationId": correlation()})
		return
	}
	access := "access-" + randomHex(16)
	f.mu.Lock()
	f.tokens[access] = token{portal: portal, expires: f.now().Add(ttl), scopes: scopes}
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": access, "refresh_token": refresh, "expires_in": int(ttl.Seconds()),
		"token_type": "bearer", "hub_id": portal, "scopes": scopes})
}

// grant checks a code or refresh token; errStatus is HubSpot's error status when refused.
func (f *Fake) grant(form url.Values) (portal int64, refresh, errStatus string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch form.Get("grant_type") {
	case "authorization_code":
		p, ok := f.codes[form.Get("code")]
		if !ok {
			return 0, "", "BAD_AUTH_CODE"
		}
		delete(f.codes, form.Get("code"))
		refresh = "refresh-" + randomHex(12)
		f.refresh[refresh] = p
		return p, refresh, ""
	case "refresh_token":
		refresh = form.Get("refresh_token")
		p, ok := f.refresh[refresh]
		if !ok || f.revoked[refresh] {
			return 0, "", "BAD_REFRESH_TOKEN"
		}
		f.refreshes[p]++
		return p, refresh, ""
	}
	return 0, "", "BAD_GRANT_TYPE"
}

func (f *Fake) nextID() string {
	f.seq++
	return strconv.Itoa(1000 + f.seq)
}

var validStates = map[string]bool{"SUCCESS": true, "FAIL_CONTINUE": true}

func (f *Fake) complete(portal int64, callbackID string, outputs map[string]string) (duplicate bool) {
	c, ok := f.completed[callbackID]
	if ok {
		c.Count++
		return true
	}
	f.completed[callbackID] = &Completion{PortalID: portal, Outputs: outputs, Count: 1}
	return false
}

func (f *Fake) serveAPI(w http.ResponseWriter, r *http.Request, portal int64, body []byte) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	p := r.URL.Path
	switch {
	// callbacks
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/automation/v4/actions/callbacks/") && len(parts) == 6 && parts[5] == "complete":
		var in struct {
			Outputs map[string]string `json:"outputFields"`
		}
		if json.Unmarshal(body, &in) != nil || !validStates[in.Outputs["hs_execution_state"]] {
			writeError(w, 400, "VALIDATION_ERROR", "hs_execution_state must be SUCCESS or FAIL_CONTINUE")
			return
		}
		f.mu.Lock()
		dup := f.complete(portal, parts[4], in.Outputs)
		f.mu.Unlock()
		if dup {
			writeError(w, f.AlreadyCompletedStatus, "CONFLICT", "callback "+parts[4]+" was already completed")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && (p == "/automation/v4/actions/callbacks/complete" || p == "/automation/actions/callbacks/2026-03/complete"):
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
			f.complete(portal, c.CallbackID, c.Outputs) // already-completed ones are left as they were
		}
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	// timeline
	case r.Method == http.MethodPost && (p == "/crm/v3/timeline/events" || p == "/integrators/timeline/v3/events"):
		if f.TimelineForbidden {
			writeError(w, 403, "MISSING_SCOPES", "This app is not allowed to use timeline events")
			return
		}
		var ev map[string]any
		if json.Unmarshal(body, &ev) != nil {
			writeError(w, 400, "VALIDATION_ERROR", "invalid JSON")
			return
		}
		f.mu.Lock()
		status, resp := f.createEvent(portal, ev)
		f.mu.Unlock()
		writeJSON(w, status, resp)
	case r.Method == http.MethodPost && (p == "/crm/v3/timeline/events/batch/create" || p == "/integrators/timeline/v3/events/batch/create"):
		if f.TimelineForbidden {
			writeError(w, 403, "MISSING_SCOPES", "This app is not allowed to use timeline events")
			return
		}
		var in struct {
			Inputs []map[string]any `json:"inputs"`
		}
		if json.Unmarshal(body, &in) != nil {
			writeError(w, 400, "VALIDATION_ERROR", "invalid JSON")
			return
		}
		var results, errs []any
		f.mu.Lock()
		for _, ev := range in.Inputs {
			status, resp := f.createEvent(portal, ev)
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
	// properties
	case r.Method == http.MethodPost && (strings.HasPrefix(p, "/crm/v3/properties/") || strings.HasPrefix(p, "/crm/properties/2025-09/")):
		f.serveProperties(w, portal, parts, body)
	// associations v4
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/crm/v4/objects/") && len(parts) == 7 && parts[5] == "associations":
		f.serveAssociations(w, r, portal, parts[3], parts[4], parts[6])
	// notes
	case r.Method == http.MethodPost && p == "/crm/v3/objects/notes/search":
		f.serveNoteSearch(w, portal, body)
	case r.Method == http.MethodPost && p == "/crm/v3/objects/notes":
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
	// records
	case strings.HasPrefix(p, "/crm/v3/objects/") && len(parts) == 5 && (r.Method == http.MethodGet || r.Method == http.MethodPatch):
		f.serveObject(w, r, portal, parts[3], parts[4], body)
	case r.Method == http.MethodGet && (p == "/account-info/v3/details" || p == "/integrations/v1/me"):
		f.mu.Lock()
		tz := f.timeZones[portal]
		f.mu.Unlock()
		if tz == "" {
			tz = "UTC"
		}
		writeJSON(w, 200, map[string]any{"portalId": portal, "timeZone": tz, "accountType": "STANDARD", "companyCurrency": "EUR",
			"additionalCurrencies": []string{}, "uiDomain": "app.hubspot.com", "dataHostingLocation": "eu1"})
	default:
		writeError(w, 404, "OBJECT_NOT_FOUND", fmt.Sprintf("no fake for %s %s", r.Method, p))
	}
}

func (f *Fake) createEvent(portal int64, ev map[string]any) (int, map[string]any) {
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

func (f *Fake) serveProperties(w http.ResponseWriter, portal int64, parts []string, body []byte) {
	// /crm/v3/properties/{type}[/groups] or /crm/properties/2025-09/{type}[/groups]
	typ := plural(parts[3])
	groups := len(parts) == 5 && parts[4] == "groups"
	var in struct {
		Name, Label, Type, FieldType, GroupName string
	}
	if json.Unmarshal(body, &in) != nil || in.Name == "" || in.Label == "" || (!groups && (in.Type == "" || in.FieldType == "" || in.GroupName == "")) {
		writeError(w, 400, "VALIDATION_ERROR", "name, label, type, fieldType and groupName are required")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pk := strconv.FormatInt(portal, 10) + "/" + typ
	if groups {
		if f.groups[pk+"/"+in.Name] {
			writeError(w, 409, "CONFLICT", "A property group named '"+in.Name+"' already exists.")
			return
		}
		f.groups[pk+"/"+in.Name] = true
		writeJSON(w, 201, map[string]any{"name": in.Name, "label": in.Label, "archived": false})
		return
	}
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

func (f *Fake) serveAssociations(w http.ResponseWriter, r *http.Request, portal int64, fromType, fromID, toType string) {
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

func (f *Fake) serveNoteSearch(w http.ResponseWriter, portal int64, body []byte) {
	var in struct {
		FilterGroups []struct {
			Filters []struct {
				PropertyName, Operator, Value string
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
				if flt.Operator != "EQ" || n.Properties[flt.PropertyName] != flt.Value {
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

func (f *Fake) serveObject(w http.ResponseWriter, r *http.Request, portal int64, typ, id string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := objKey(portal, typ, id)
	obj, ok := f.objects[k]
	if !ok && f.Records != nil {
		if props := f.Records(portal, plural(typ), id); props != nil {
			obj, ok = props, true
			f.objects[k] = obj
		}
	}
	if !ok {
		writeError(w, 404, "OBJECT_NOT_FOUND", "resource not found")
		return
	}
	if r.Method == http.MethodPatch {
		var in struct {
			Properties map[string]string `json:"properties"`
		}
		if json.Unmarshal(body, &in) != nil || in.Properties == nil {
			writeError(w, 400, "VALIDATION_ERROR", "properties expected")
			return
		}
		names := make([]string, 0, len(in.Properties))
		for n := range in.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if !f.knownProperty(portal, typ, n) {
				writeError(w, 400, "VALIDATION_ERROR", "Property values were not valid: Property \""+n+"\" does not exist")
				return
			}
		}
		for n, v := range in.Properties {
			obj[n] = v
		}
	}
	props := map[string]any{"hs_object_id": id}
	if r.Method == http.MethodGet {
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
	} else {
		for n, v := range obj {
			props[n] = v
		}
	}
	writeJSON(w, 200, map[string]any{"id": id, "properties": props, "createdAt": f.now(), "updatedAt": f.now(), "archived": false})
}

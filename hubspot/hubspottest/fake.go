// Package hubspottest is a fake HubSpot for tests and for `make run` (cmd/fakehubspot). It plays
// both sides of HubSpot: the API our client calls (OAuth tokens, callback completion, timeline
// events one by one and in batches, records read, updated and batch-updated, associations v4,
// properties, notes, account details) with injectable 429s, 5xx and slow answers, recording every
// call; and the caller that signs and POSTs action executions to our API (caller.go). It answers with HubSpot's statuses, error bodies and rate-limit headers so
// that the client's error handling runs as it would against HubSpot.
//
// The API is split by resource: routes.go (every path, and what a call goes through before its
// handler), oauth.go, callbacks.go, timeline.go, records.go, notes.go, accountinfo.go,
// definitions.go (the developer-key APIs), faults.go and ratelimit.go.
package hubspottest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	// GrantScopes are the scopes a token gets (default: oauth, automation and contacts read and
	// write, no timeline); the token info lists them.
	GrantScopes []string
	// TokenAnswerWithoutScopes leaves the scopes out of the token endpoint's answer, as HubSpot's
	// documented v1 answer does; the token info still has them.
	TokenAnswerWithoutScopes bool
	// AssocPageSize caps association pages so tests see paging; 0: the ?limit= asked, at most 500.
	AssocPageSize int
	// Now is the fake's clock.
	Now func() time.Time
	// Records, when set, creates a record on first use with the properties it returns (a local run
	// needs no seeding); nil: unknown records are 404 as in HubSpot.
	Records func(portalID int64, objectType, id string) map[string]string

	URL string // base URL when started by NewServer

	mux *http.ServeMux // routes.go

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
	f := &Fake{ClientID: clientID, ClientSecret: clientSecret, AlreadyCompletedStatus: http.StatusConflict,
		tokens: map[string]token{}, refresh: map[string]int64{}, revoked: map[string]bool{}, codes: map[string]int64{},
		refreshes: map[int64]int{}, completed: map[string]*Completion{}, events: map[string]map[string]any{},
		objects: map[string]map[string]string{}, assocs: map[string][]string{}, properties: map[string]map[string]bool{},
		groups: map[string]bool{}, timeZones: map[int64]string{}, window: map[int64][]time.Time{}}
	f.mux = f.routes()
	return f
}

// NewServer starts a fake on a local port for the test and stops it at the end.
func NewServer(t testing.TB, clientID, clientSecret string) *Fake {
	f := New(clientID, clientSecret)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
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

// exchange is what ServeHTTP read of a request before routing it: its body, and its entry in the
// call log, where the API gate fills in the portal.
type exchange struct {
	body []byte
	call Call
}

type exchangeKey struct{}

// exchangeOf returns the exchange ServeHTTP put in the request's context.
func exchangeOf(r *http.Request) *exchange {
	return r.Context().Value(exchangeKey{}).(*exchange)
}

// ServeHTTP answers like HubSpot and records the call.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	rec := &recorder{ResponseWriter: w, status: 200}
	ex := &exchange{body: body, call: Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body, Authorization: r.Header.Get("Authorization")}}
	defer func() {
		ex.call.Status = rec.status
		f.mu.Lock()
		f.calls = append(f.calls, ex.call)
		f.mu.Unlock()
	}()
	r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex))
	if !isClean(r.URL.EscapedPath()) {
		// ServeMux would redirect to the cleaned path; HubSpot has no such path.
		f.unrouted(rec, r)
		return
	}
	f.mux.ServeHTTP(rec, r)
}

// recorder captures the status for the call log.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// nextID returns a new record, note or definition id; f.mu must be held.
func (f *Fake) nextID() string {
	f.seq++
	return strconv.Itoa(1000 + f.seq)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func correlation() string { return randomHex(16) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes HubSpot's error body.
func writeError(w http.ResponseWriter, status int, category, message string) {
	writeJSON(w, status, map[string]any{"status": "error", "message": message, "category": category, "correlationId": correlation()})
}

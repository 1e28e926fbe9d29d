package hubspottest

import (
	"fmt"
	"net/http"
	"path"
	"strings"
)

// The prefixes of the resources a HUBSPOT_PATHS override may move (callbacks=, timeline=,
// properties=): hubspot.DefaultPaths' first, then the other one HubSpot serves, so that a client
// configured with either reaches the same handlers.
var (
	callbacksPrefixes  = []string{"/automation/v4/actions/callbacks", "/automation/actions/callbacks/2026-03"}
	timelinePrefixes   = []string{"/crm/v3/timeline", "/integrators/timeline/v3"}
	propertiesPrefixes = []string{"/crm/v3/properties", "/crm/properties/2025-09"}
)

// routes maps every path the fake serves to its handler, through one of three gates:
//
//   - OAuth (/oauth/...): no token, no injected faults, no rate limit.
//   - the developer-key APIs (definitions.go): ?hapikey=, injected faults, no rate limit.
//   - the API: a bearer token, injected faults, then the portal's rate limit.
//
// Anything else is an unknown API call: it goes through the API gate (so it needs a token and
// counts against the budget) and is answered 404 with HubSpot's JSON error body. A known path with
// a method it does not serve is answered the same way, except on the developer-key APIs, which
// answer 405. ServeMux lets GET patterns take HEAD requests too; the fake serves no HEAD, so every
// GET route is registered with the answer its gate gives to an unknown method.
func (f *Fake) routes() *http.ServeMux {
	mux := http.NewServeMux()
	unknownAPI := f.api(f.notFound)
	get := func(pattern string, h, head http.Handler) {
		mux.Handle("GET "+pattern, h)
		mux.Handle("HEAD "+pattern, head)
	}

	// OAuth.
	oauthNotFound := http.HandlerFunc(f.oauthNotFound)
	get("/oauth/authorize", http.HandlerFunc(f.authorizePage), oauthNotFound)
	mux.HandleFunc("POST /oauth/v1/token", f.issueToken)
	mux.HandleFunc("POST /oauth/v3/token", f.issueToken)
	get("/oauth/v1/access-tokens/{token...}", http.HandlerFunc(f.tokenInfo), oauthNotFound)
	// ServeMux would redirect these two to the same path with a trailing slash; /oauth, outside
	// /oauth/, is an unknown API call.
	mux.Handle("/oauth/v1/access-tokens", oauthNotFound)
	mux.Handle("/oauth", unknownAPI)
	mux.Handle("/oauth/", oauthNotFound)

	// The developer-key APIs: custom action definitions and timeline event templates.
	actions := func(h devFunc) http.Handler { return f.actionsGate(f.developer(h)) }
	get("/automation/v4/actions/{appID}", actions(f.listActions), actions(methodNotAllowed))
	mux.Handle("POST /automation/v4/actions/{appID}", actions(f.createAction))
	mux.Handle("/automation/v4/actions/{appID}", actions(methodNotAllowed))
	get("/automation/v4/actions/{appID}/{definitionID}", actions(f.getAction), actions(methodNotAllowed))
	mux.Handle("PATCH /automation/v4/actions/{appID}/{definitionID}", actions(f.patchAction))
	mux.Handle("/automation/v4/actions/{appID}/{definitionID}", actions(methodNotAllowed))
	templates := func(h devFunc) http.Handler { return f.developer(f.timelineAllowed(h)) }
	for _, p := range timelinePrefixes {
		list, one := p+"/{appID}/event-templates", p+"/{appID}/event-templates/{templateID}"
		get(list, templates(f.listTemplates), templates(methodNotAllowed))
		mux.Handle("POST "+list, templates(f.createTemplate))
		mux.Handle(list, templates(methodNotAllowed))
		get(one, templates(f.getTemplate), templates(methodNotAllowed))
		mux.Handle("PUT "+one, templates(f.updateTemplate))
		mux.Handle(one, templates(methodNotAllowed))
	}

	// The API.
	post := func(pattern string, h apiFunc) { mux.Handle("POST "+pattern, f.api(h)) }
	for _, p := range callbacksPrefixes {
		post(p+"/{callbackID}/complete", f.completeCallback)
		post(p+"/complete", f.completeCallbacks)
	}
	for _, p := range timelinePrefixes {
		post(p+"/events", f.createEvent)
		post(p+"/events/batch/create", f.createEvents)
	}
	for _, p := range propertiesPrefixes {
		post(p+"/{objectType}", f.createProperty)
		post(p+"/{objectType}/groups", f.createPropertyGroup)
	}
	get("/crm/v4/objects/{fromType}/{fromID}/associations/{toType}", f.api(f.associations), unknownAPI)
	post("/crm/v3/objects/notes/search", f.searchNotes)
	post("/crm/v3/objects/notes", f.createNote)
	post("/crm/v3/objects/notes/batch/create", f.createNotes)
	post("/crm/v3/objects/{objectType}/batch/update", f.batchUpdate)
	get("/crm/v3/objects/{objectType}/{objectID}", f.api(f.getObject), unknownAPI)
	mux.Handle("PATCH /crm/v3/objects/{objectType}/{objectID}", f.api(f.patchObject))
	get("/account-info/v3/details", f.api(f.accountInfo), unknownAPI)
	get("/integrations/v1/me", f.api(f.accountInfo), unknownAPI)

	mux.Handle("/", unknownAPI)
	return mux
}

// apiFunc answers an API call authenticated for portal; body is the request body.
type apiFunc func(w http.ResponseWriter, r *http.Request, portal int64, body []byte)

// api is the API gate, in HubSpot's order: the bearer token (401), then an injected fault, then
// the portal's rate limit. A call that passes the token check counts against the budget whatever
// h then answers, a 404 included.
func (f *Fake) api(h apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeOf(r)
		portal, ok := f.authorize(w, r)
		ex.call.PortalID = portal
		if !ok || f.fault(w, r) || f.limited(w, portal) {
			return
		}
		h(w, r, portal, ex.body)
	})
}

// authorize checks the bearer token and answers 401 when it is missing, unknown or expired. The
// portal is the token's, also when it has expired.
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

// notFound answers an API call the fake has no route for (after the API gate).
func (f *Fake) notFound(w http.ResponseWriter, r *http.Request, _ int64, _ []byte) {
	writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", fmt.Sprintf("no fake for %s %s", r.Method, r.URL.Path))
}

// unrouted answers a request whose path ServeMux would not route as it is (see isClean).
func (f *Fake) unrouted(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/oauth/") {
		f.oauthNotFound(w, r)
		return
	}
	f.api(f.notFound).ServeHTTP(w, r)
}

// isClean says whether p has no empty, "." or ".." segment (a trailing slash is allowed); ServeMux
// answers other paths with a redirect.
func isClean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

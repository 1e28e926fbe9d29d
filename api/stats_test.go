package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"smsflow/api"
	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/internal/testenv"
	"smsflow/store"
)

// statsEnv is the API with a database holding the campaign "spring" of portal 700.
type statsEnv struct {
	db     *store.Store
	router http.Handler
}

func newStatsEnv(t *testing.T) *statsEnv {
	t.Helper()
	db := testenv.Store(t)
	cfg := config.Config{PublicBaseURL: "http://api.test", AdminToken: adminToken, HubSpot: config.HubSpot{ClientSecret: actionSecret}}
	e := &statsEnv{db: db, router: api.NewRouter(api.Deps{Log: slog.New(slog.DiscardHandler), Config: cfg, Store: db})}
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	e.message(t, 700, "spring", "1", "+33612345601", "FR", day, "SMS_SENT", "SMS_DELIVERED", "SMS_CLICKED")
	e.message(t, 700, "spring", "2", "+33612345602", "FR", day, "SMS_SENT", "SMS_NOT_DELIVERED")
	reply := e.message(t, 700, "spring", "3", "+34612345603", "ES", day.AddDate(0, 0, 1), "SMS_SENT", "SMS_DELIVERED")
	e.message(t, 701, "spring", "9", "+33612345609", "FR", day, "SMS_SENT", "SMS_DELIVERED")
	if _, err := db.AddEvent(context.Background(), store.Event{MessageID: &reply, Source: "sim", SourceEventID: "mo-1", Kind: "reply",
		Status: "response", Detail: []byte(`{"from":"+34612345603","to":"36180","text":"yes please"}`), OccurredAt: day.Add(26 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return e
}

// message stores a message with its status events and returns its id.
func (e *statsEnv) message(t *testing.T, portal int64, campaign, objectID, phone, country string, at time.Time, statuses ...string) string {
	t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	if err := e.db.SaveMessage(ctx, store.Message{ID: id, PortalID: portal, ObjectType: "contact", ObjectID: objectID, Channel: "sms",
		Phone: phone, Country: country, Campaign: campaign, Segments: 1, Status: statuses[len(statuses)-1], SentAt: &at}); err != nil {
		t.Fatal(err)
	}
	for i, st := range statuses {
		if _, err := e.db.AddEvent(ctx, store.Event{MessageID: &id, Source: "workflow", SourceEventID: id + ":" + st, Kind: "status",
			Status: st, OccurredAt: at.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func (e *statsEnv) get(t *testing.T, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, req)
	return w
}

// link asks the admin endpoint for a statistics link of a portal and returns its query.
func (e *statsEnv) link(t *testing.T, portal int64) url.Values {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/admin/portals/"+strconv.FormatInt(portal, 10)+"/stats-link", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("stats link: %d %s", w.Code, w.Body)
	}
	var l struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(l.URL)
	if err != nil || u.Host != "api.test" || u.Path != "/stats" {
		t.Fatalf("link %q, want http://api.test/stats?…", l.URL)
	}
	if d := time.Until(l.ExpiresAt); d < 50*time.Minute || d > 61*time.Minute {
		t.Errorf("link valid for %v, want about an hour", d)
	}
	return u.Query()
}

func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, body)
	}
	return rows
}

func TestStatsAuthentication(t *testing.T) {
	e := newStatsEnv(t)
	q := e.link(t, 700)
	with := func(path string, mutate func(url.Values)) string {
		v := url.Values{}
		for k := range q {
			v.Set(k, q.Get(k))
		}
		v.Set("campaign", "spring")
		if mutate != nil {
			mutate(v)
		}
		return path + "?" + v.Encode()
	}
	paths := []string{"/stats", "/v1/stats/campaigns", "/v1/stats/campaign", "/v1/stats/campaign.csv", "/v1/stats/audit.csv", "/v1/stats/recipients.csv"}
	for _, p := range paths {
		if w := e.get(t, with(p, nil)); w.Code != http.StatusOK {
			t.Errorf("%s with the link: %d %s", p, w.Code, w.Body)
		}
		for name, mutate := range map[string]func(url.Values){
			"no token":       func(v url.Values) { v.Del("sig"); v.Del("exp"); v.Del("portal") },
			"forged":         func(v url.Values) { v.Set("sig", strings.Repeat("A", 43)) },
			"another portal": func(v url.Values) { v.Set("portal", "701") },
			"later expiry": func(v url.Values) {
				exp, _ := strconv.ParseInt(v.Get("exp"), 10, 64)
				v.Set("exp", strconv.FormatInt(exp+60, 10))
			},
			"another secret's": func(v url.Values) { v.Set("sig", strings.ToLower(v.Get("sig"))) },
		} {
			if w := e.get(t, with(p, mutate)); w.Code != http.StatusUnauthorized {
				t.Errorf("%s, %s: %d, want 401", p, name, w.Code)
			}
		}
	}
	// The admin token opens any portal named in ?portal=; a wrong one nothing.
	if w := e.get(t, "/v1/stats/campaign?portal=701&campaign=spring", "Authorization", "Bearer "+adminToken); w.Code != http.StatusOK ||
		!strings.Contains(w.Body.String(), `"portal_id":701`) {
		t.Errorf("admin token: %d %s", w.Code, w.Body)
	}
	if w := e.get(t, "/v1/stats/campaign?portal=701&campaign=spring", "Authorization", "Bearer not-it"); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong admin token: %d, want 401", w.Code)
	}
	if w := e.get(t, "/v1/stats/campaigns?portal=700"); w.Code != http.StatusUnauthorized {
		t.Errorf("portal without token: %d, want 401", w.Code)
	}
	// The page carries its protections; its assets are public and hold no data.
	page := e.get(t, with("/stats", nil))
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") ||
		page.Header().Get("Referrer-Policy") != "no-referrer" || !strings.Contains(page.Body.String(), "HubSpot account 700") {
		t.Errorf("page: CSP %q, referrer %q, body %s", csp, page.Header().Get("Referrer-Policy"), page.Body)
	}
	for _, asset := range []string{"/stats/assets/chart.umd.min.js", "/stats/assets/stats.js", "/stats/assets/stats.css"} {
		if w := e.get(t, asset); w.Code != http.StatusOK || w.Body.Len() < 100 {
			t.Errorf("%s: %d (%d bytes)", asset, w.Code, w.Body.Len())
		}
	}
	if w := e.get(t, "/stats/assets/index.html"); w.Code != http.StatusNotFound {
		t.Errorf("the page's template is served as an asset: %d", w.Code)
	}
}

// The card asks for a link with hubspot.fetch, which HubSpot signs (v3) with the app's secret.
func TestStatsCardLink(t *testing.T) {
	e := newStatsEnv(t)
	ask := func(secret string, at time.Time, mutate func(*http.Request)) *httptest.ResponseRecorder {
		t.Helper()
		u := "http://api.test/v1/stats/link?portalId=700&userId=12&campaign=spring"
		req := httptest.NewRequest(http.MethodGet, u, nil)
		hubspot.SignRequest(req, secret, u, nil, at)
		if mutate != nil {
			mutate(req)
		}
		w := httptest.NewRecorder()
		e.router.ServeHTTP(w, req)
		return w
	}
	w := ask(actionSecret, time.Now(), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("signed card request: %d %s", w.Code, w.Body)
	}
	var l struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &l)
	u, _ := url.Parse(l.URL)
	if u.Query().Get("portal") != "700" || u.Query().Get("campaign") != "spring" {
		t.Errorf("card link %q, want portal 700 and campaign spring", l.URL)
	}
	if page := e.get(t, u.RequestURI()); page.Code != http.StatusOK {
		t.Errorf("the card's link opens the page: %d", page.Code)
	}
	for name, w := range map[string]*httptest.ResponseRecorder{
		"unsigned":       ask(actionSecret, time.Now(), func(r *http.Request) { r.Header = http.Header{} }),
		"another secret": ask("not-the-app-secret", time.Now(), nil),
		"stale":          ask(actionSecret, time.Now().Add(-10*time.Minute), nil),
		"another portal": ask(actionSecret, time.Now(), func(r *http.Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "700", "701", 1) }),
		"signature moved": ask(actionSecret, time.Now(), func(r *http.Request) {
			r.Header.Set(hubspot.HeaderSignatureV3, "x"+r.Header.Get(hubspot.HeaderSignatureV3))
		}),
	} {
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s card request: %d, want 401", name, w.Code)
		}
	}
}

func TestStatsFiguresAndExports(t *testing.T) {
	e := newStatsEnv(t)
	q := e.link(t, 700)
	auth := q.Encode()

	w := e.get(t, "/v1/stats/campaign?campaign=spring&"+auth)
	var st store.CampaignStats
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if want := (store.Figures{Messages: 3, Sent: 3, Delivered: 2, NotDelivered: 1, Clicked: 1, Parts: 3}); st.Total != want {
		t.Errorf("figures %+v, want %+v (portal 701's message must not count)", st.Total, want)
	}
	w = e.get(t, "/v1/stats/campaigns?"+auth)
	if !strings.Contains(w.Body.String(), `"name":"spring","messages":3`) {
		t.Errorf("campaigns: %s", w.Body)
	}

	w = e.get(t, "/v1/stats/campaign.csv?campaign=spring&"+auth)
	if ct := w.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" ||
		w.Header().Get("Content-Disposition") != `attachment; filename="smsflow-campaign-spring.csv"` {
		t.Errorf("figures CSV headers: %v", w.Header())
	}
	rows := readCSV(t, w.Body.String())
	want := [][]string{
		{"campaign", "breakdown", "value", "messages", "sent", "not_sent", "delivered", "not_delivered", "clicked", "replied", "unsubscribed", "pending", "parts"},
		{"spring", "total", "", "3", "3", "0", "2", "1", "1", "0", "0", "0", "3"},
		{"spring", "day", "2026-03-02", "2", "2", "0", "1", "1", "1", "0", "0", "0", "2"},
		{"spring", "day", "2026-03-03", "1", "1", "0", "1", "0", "0", "0", "0", "0", "1"},
		{"spring", "country", "FR", "2", "2", "0", "1", "1", "1", "0", "0", "0", "2"},
		{"spring", "country", "ES", "1", "1", "0", "1", "0", "0", "0", "0", "0", "1"},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("figures CSV:\n%v\nwant\n%v", rows, want)
	}

	// The audit: every event, numbers masked and reply texts left out unless asked in full.
	masked := e.get(t, "/v1/stats/audit.csv?campaign=spring&"+auth).Body.String()
	rows = readCSV(t, masked)
	if len(rows) != 1+3+2+2+1 {
		t.Errorf("audit has %d rows, want a header and 8 events", len(rows))
	}
	if strings.Contains(masked, "+33612345601") || strings.Contains(masked, "+34612345603") || strings.Contains(masked, "yes please") ||
		!strings.Contains(masked, "+336******01") || !strings.Contains(masked, `""from"":""+346******03""`) {
		t.Errorf("masked audit shows a number or a reply text:\n%s", masked)
	}
	full := e.get(t, "/v1/stats/audit.csv?full=1&campaign=spring&"+auth).Body.String()
	if !strings.Contains(full, "+33612345601") || !strings.Contains(full, "yes please") {
		t.Errorf("full audit lacks the numbers or the reply text:\n%s", full)
	}
	if strings.Contains(full, "+33612345609") {
		t.Error("the audit shows another portal's message")
	}

	// Remarketing: delivered but not clicked.
	rows = readCSV(t, e.get(t, "/v1/stats/recipients.csv?campaign=spring&reached=delivered&not=clicked&full=1&"+auth).Body.String())
	if len(rows) != 2 || rows[1][1] != "3" || rows[1][2] != "+34612345603" {
		t.Errorf("delivered but not clicked: %v, want contact 3 alone", rows)
	}
	if w := e.get(t, "/v1/stats/recipients.csv?campaign=spring&reached=opened&"+auth); w.Code != http.StatusBadRequest {
		t.Errorf("unknown outcome: %d, want 400", w.Code)
	}
	if w := e.get(t, "/v1/stats/audit.csv?"+auth); w.Code != http.StatusBadRequest {
		t.Errorf("no campaign: %d, want 400", w.Code)
	}
}

// flushCounter is a ResponseWriter that records how much had been written at each flush.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushedAt []int
}

func (f *flushCounter) Flush() {
	f.flushedAt = append(f.flushedAt, f.Body.Len())
	f.ResponseRecorder.Flush()
}

// An export leaves in pieces while PostgreSQL still sends rows: the client gets the first rows
// long before the last one is read.
func TestStatsExportStreams(t *testing.T) {
	e := newStatsEnv(t)
	const n = 3000
	if _, err := e.db.Pool.Exec(context.Background(), `WITH m AS (
		INSERT INTO messages (id, portal_id, object_type, object_id, phone, country, campaign, segments, status, sent_at)
		SELECT gen_random_uuid(), 700, 'contact', 'bulk-' || i, '+336123456' || lpad((i % 100)::text, 2, '0'), 'FR', 'bulk', 1, 'SMS_DELIVERED', now()
		FROM generate_series(1, $1) i RETURNING id)
	INSERT INTO message_events (message_id, source, source_event_id, kind, status, occurred_at)
	SELECT id, 'workflow', id::text || s, 'status', s, now() FROM m, unnest(ARRAY['SMS_SENT', 'SMS_DELIVERED']) s`, n); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/stats/audit.csv?campaign=bulk&"+e.link(t, 700).Encode(), nil)
	w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
	e.router.ServeHTTP(w, req)
	total := w.Body.Len()
	rows := readCSV(t, w.Body.String())
	if len(rows) != 1+2*n {
		t.Fatalf("audit of %d messages has %d rows, want %d", n, len(rows), 1+2*n)
	}
	if len(w.flushedAt) < 2*n/500 || w.flushedAt[0] >= total/4 {
		t.Errorf("flushes at %v of %d bytes: the export was not sent as it was read", w.flushedAt, total)
	}

	// Over a real connection: chunked, no length known in advance.
	srv := httptest.NewServer(e.router)
	defer srv.Close()
	resp, err := http.Get(srv.URL + req.URL.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ContentLength != -1 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) || len(body) != total {
		t.Errorf("export over HTTP: length %d, transfer %v, %d bytes (want chunked, %d bytes)", resp.ContentLength, resp.TransferEncoding, len(body), total)
	}
}

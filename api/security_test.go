package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gin-gonic/gin"

	"smsflow/carrier"
	"smsflow/carrier/twilio"
	"smsflow/config"
	"smsflow/store"
)

func router(cfg config.Config) http.Handler {
	return NewRouter(Deps{Log: slog.New(slog.DiscardHandler), Config: cfg})
}

func do(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// A forged STOP signed with the once-default simulator secret finds no route when the simulator
// is not a configured carrier; neither does a carrier that is not configured.
func TestCarrierRoutesOnlyForConfiguredCarriers(t *testing.T) {
	h := router(config.Config{PublicBaseURL: testBase, Carrier: config.Carrier{Primary: "twilio", TwilioAuthToken: "tok",
		WebhookSecret: "dev-webhook-secret"}})
	stop := url.Values{"MessageSid": {"SMforged"}, "From": {"+33612345678"}, "To": {"+15005550006"}, "Body": {"STOP"}}.Encode()
	for _, path := range []string{"/carriers/sim/inbound", "/carriers/sim/status", "/carriers/vonage/inbound", "/carriers/vonage/status"} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(stop))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(carrier.SignatureHeader, carrier.SignWebhook("dev-webhook-secret", testBase+path, []byte(stop), time.Now()))
		if w := do(h, req); w.Code != http.StatusNotFound {
			t.Errorf("POST %s to a stack without that carrier: HTTP %d, want 404", path, w.Code)
		}
	}
	// The configured carrier is mounted and still authenticates.
	req := httptest.NewRequest(http.MethodPost, "/carriers/twilio/inbound", strings.NewReader(stop))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w := do(h, req); w.Code != http.StatusUnauthorized {
		t.Fatalf("unsigned POST to the configured carrier: HTTP %d, want 401", w.Code)
	}
}

// A configured carrier without its secret authenticates nothing: an HMAC under the empty key is
// anyone's to compute.
func TestCarrierWithoutSecretAuthenticatesNothing(t *testing.T) {
	h := router(config.Config{PublicBaseURL: testBase, Carrier: config.Carrier{Primary: "sim", Secondary: "twilio"}})
	form := url.Values{"MessageSid": {"SMx"}, "MessageStatus": {"delivered"}}
	body := form.Encode()
	for path, sign := range map[string]func(*http.Request){
		"/carriers/sim/status": func(r *http.Request) {
			r.Header.Set(carrier.SignatureHeader, carrier.SignWebhook("", testBase+"/carriers/sim/status", []byte(body), time.Now()))
		},
		"/carriers/twilio/status": func(r *http.Request) {
			r.Header.Set(twilio.SignatureHeader, twilio.Signature("", testBase+"/carriers/twilio/status", form))
		},
	} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sign(req)
		if w := do(h, req); w.Code != http.StatusUnauthorized {
			t.Errorf("%s signed with the empty key: HTTP %d, want 401", path, w.Code)
		}
	}
}

// Bodies past the limit are refused with 413 and a JSON reason, announced or streamed.
func TestBodyLimit(t *testing.T) {
	h := router(config.Config{PublicBaseURL: testBase, HTTP: config.HTTP{MaxBodyBytes: 1024},
		HubSpot: config.HubSpot{ClientSecret: "s"}, Carrier: config.Carrier{Primary: "sim", WebhookSecret: "w"}})
	big := strings.Repeat("a", 4096)
	for name, req := range map[string]*http.Request{
		"announced": httptest.NewRequest(http.MethodPost, "/hubspot/actions/sms", strings.NewReader(big)),
		// No Content-Length: the reader gives the bytes one at a time.
		"streamed":      httptest.NewRequest(http.MethodPost, "/carriers/sim/inbound", iotest.OneByteReader(strings.NewReader(big))),
		"unknown route": httptest.NewRequest(http.MethodPost, "/u/abc", strings.NewReader(big)),
	} {
		if name == "streamed" {
			req.ContentLength = -1
		}
		w := do(h, req)
		var reason struct {
			Error    string `json:"error"`
			MaxBytes int64  `json:"max_bytes"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &reason); w.Code != http.StatusRequestEntityTooLarge || err != nil ||
			reason.Error == "" || reason.MaxBytes != 1024 {
			t.Errorf("%s: HTTP %d %s, want 413 with a reason", name, w.Code, w.Body)
		}
	}
	// Under the limit the handler reads the body as before (here: a bad signature, 401).
	req := httptest.NewRequest(http.MethodPost, "/carriers/sim/inbound", strings.NewReader("From=x"))
	if w := do(h, req); w.Code != http.StatusUnauthorized {
		t.Fatalf("small body: HTTP %d, want 401", w.Code)
	}
}

// The OAuth callback (which calls HubSpot) is rate-limited per client IP; X-Forwarded-For from
// an untrusted peer does not give a new identity.
func TestOAuthCallbackRateLimited(t *testing.T) {
	h := router(config.Config{PublicBaseURL: testBase})
	var last *httptest.ResponseRecorder
	for i := range int(oauthPerIP.burst) + 1 {
		req := httptest.NewRequest(http.MethodGet, "/oauth/callback?code=c&state=s", nil)
		req.RemoteAddr = "198.51.100.7:1234"
		req.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i))
		last = do(h, req)
		if i < int(oauthPerIP.burst) && last.Code == http.StatusTooManyRequests {
			t.Fatalf("request %d refused", i)
		}
	}
	if last.Code != http.StatusTooManyRequests || last.Header().Get("Retry-After") == "" {
		t.Fatalf("callback %d: HTTP %d, Retry-After %q; want 429 with Retry-After", int(oauthPerIP.burst)+1, last.Code, last.Header().Get("Retry-After"))
	}
	req := httptest.NewRequest(http.MethodGet, "/oauth/callback?code=c&state=s", nil)
	req.RemoteAddr = "198.51.100.8:1234"
	if w := do(h, req); w.Code == http.StatusTooManyRequests {
		t.Fatal("another client was refused too")
	}
}

func TestLimiterBoundsMemory(t *testing.T) {
	l := newLimiter(rateLimit{rate: 1, burst: 2})
	l.maxKeys = 100
	now := time.Unix(1_000_000, 0)
	l.now = func() time.Time { return now }
	for i := range 1000 {
		l.allow("k" + strconv.Itoa(i))
	}
	if len(l.buckets) > 100 {
		t.Fatalf("%d buckets, want at most 100", len(l.buckets))
	}
	// A key keeps its bucket while the map has room: two at once, then one a second.
	l = newLimiter(rateLimit{rate: 1, burst: 2})
	l.now = func() time.Time { return now }
	a, _ := l.allow("ip")
	b, _ := l.allow("ip")
	c, wait := l.allow("ip")
	if !a || !b || c || wait != time.Second {
		t.Fatalf("allow = %v %v %v (wait %v), want true true false (1s)", a, b, c, wait)
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow("ip"); !ok {
		t.Fatal("a token did not come back after a second")
	}
}

func TestClientKey(t *testing.T) {
	h := NewRouter(Deps{Log: slog.New(slog.DiscardHandler), Config: config.Config{HTTP: config.HTTP{TrustedProxies: []string{"10.0.0.0/8"}}}})
	h.GET("/key", func(c *gin.Context) { c.String(http.StatusOK, clientKey(c)) })
	for _, tc := range []struct{ remote, xff, want string }{
		{"192.0.2.1:1", "", "192.0.2.1"},
		{"192.0.2.1:1", "203.0.113.9", "192.0.2.1"}, // an untrusted peer's header is ignored
		{"10.1.2.3:1", "203.0.113.9", "203.0.113.9"},
		{"[2001:db8:1:2:3:4:5:6]:1", "", "2001:db8:1:2::/64"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/key", nil)
		req.RemoteAddr = tc.remote
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := do(h, req).Body.String(); got != tc.want {
			t.Errorf("%s via %q: key %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestIsPreview(t *testing.T) {
	for ua, want := range map[string]bool{
		"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)":                true,
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)": true,
		"WhatsApp/2.23.20.0 A":          true,
		"TelegramBot (like TwitterBot)": true,
		"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)":                         true,
		"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)":     true,
		"Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5":                           true,
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko; Google-Read-Aloud)": true,
		"Mozilla/5.0 (compatible; SomeLinkCrawler/1.0)":                                             true,
		"": true,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148":     false,
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36": false,
		"Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 Chrome/120.0 Mobile":             false,
		"Go-http-client/1.1": false,
	} {
		req := httptest.NewRequest(http.MethodGet, "/l/x", nil)
		req.Header.Set("User-Agent", ua)
		if got := isPreview(req); got != want {
			t.Errorf("isPreview(%q) = %v, want %v", ua, got, want)
		}
	}
	if !isPreview(httptest.NewRequest(http.MethodHead, "/l/x", nil)) {
		t.Error("a HEAD is a click")
	}
}

// A client sending its headers slower than HTTP_READ_HEADER_TIMEOUT is cut off.
func TestServerCutsSlowClients(t *testing.T) {
	srv := NewServer(config.Config{HTTP: config.HTTP{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: time.Second,
		WriteTimeout: time.Second, IdleTimeout: time.Second}}, router(config.Config{}))
	if srv.ReadHeaderTimeout != 200*time.Millisecond || srv.ReadTimeout != time.Second || srv.WriteTimeout != time.Second ||
		srv.IdleTimeout != time.Second || srv.MaxHeaderBytes == 0 {
		t.Fatalf("server = %+v", srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Slowloris: a request line, then a header byte every 50 ms, never the blank line.
	start := time.Now()
	_, _ = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "))
	go func() {
		for range 60 {
			time.Sleep(50 * time.Millisecond)
			if _, err := conn.Write([]byte("a")); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = bufio.NewReader(conn).ReadString('\n')
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read %v: the server kept the slow client's connection open", err)
	}
	if d := time.Since(start); d > 800*time.Millisecond { // well before ReadTimeout
		t.Fatalf("cut off only after %v", d)
	}
}

// --- with PostgreSQL and Temporal ---

// linkEnv is a hookEnv whose messages have a tracked link and an unsubscribe link.
func (e *hookEnv) links(sid string) (messageID, click, unsub string) {
	e.t.Helper()
	ctx := context.Background()
	id := e.message(sid)
	if err := e.db.SaveMessage(ctx, store.Message{ID: id, PortalID: 62515, ObjectType: "contact", ObjectID: "1",
		Phone: "+33612345678", Sender: "+15005550006", Status: "SMS_SENT"}); err != nil {
		e.t.Fatal(err)
	}
	click, err := e.db.CreateShortLink(ctx, id, 62515, store.LinkRedirect, "https://shop.example.com/"+sid)
	if err != nil {
		e.t.Fatal(err)
	}
	unsub, err = e.db.CreateShortLink(ctx, id, 62515, store.LinkUnsubscribe, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return id, click, unsub
}

func (e *hookEnv) get(method, path, ua, remote string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("User-Agent", ua)
	if remote != "" {
		req.RemoteAddr = remote
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return do(e.router, req)
}

const phoneUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"

// Link previews and HEAD requests redirect like a click but are stored as previews: no click
// counted, no click signalled to the workflow. A person's click still is both.
func TestLinkPreviewIsNotAClick(t *testing.T) {
	e := newHookEnv(t)
	id, code, _ := e.links("SMprev")
	for _, r := range []struct{ method, ua string }{{http.MethodHead, phoneUA}, {http.MethodGet, "Slackbot-LinkExpanding 1.0"},
		{http.MethodGet, "WhatsApp/2.23.20.0 A"}} {
		w := e.get(r.method, "/l/"+code, r.ua, "")
		if w.Code != http.StatusFound || w.Header().Get("Location") != "https://shop.example.com/SMprev" {
			t.Fatalf("%s %q: HTTP %d to %q, want the redirect", r.method, r.ua, w.Code, w.Header().Get("Location"))
		}
	}
	if n := e.countEvents(`SELECT count(*) FROM message_events WHERE message_id = $1 AND kind = 'click'`, id); n != 0 {
		t.Fatalf("%d click events after previews only", n)
	}
	if n := e.countEvents(`SELECT count(*) FROM message_events WHERE message_id = $1 AND kind = 'preview'`, id); n != 3 {
		t.Fatalf("%d preview events, want 3", n)
	}
	if got := e.signals(id); len(got) != 0 {
		t.Fatalf("signals %v after previews only, want none", got)
	}
	if w := e.get(http.MethodGet, "/l/"+code, phoneUA, ""); w.Code != http.StatusFound {
		t.Fatalf("click: HTTP %d", w.Code)
	}
	l, err := e.db.ShortLinkByCode(context.Background(), code, store.VisitNone)
	if err != nil || l.Clicks != 1 || l.Previews != 3 {
		t.Fatalf("link = %+v %v, want 1 click and 3 previews", l, err)
	}
	if got := e.signals(id); strings.Join(got, ",") != "click" {
		t.Fatalf("signals %v, want one click", got)
	}
	// Repeated clicks are counted and stored, not signalled.
	for i := range 3 {
		if w := e.get(http.MethodGet, "/l/"+code, phoneUA, "192.0.2."+strconv.Itoa(i+1)+":1"); w.Code != http.StatusFound {
			t.Fatalf("click %d: HTTP %d", i+2, w.Code)
		}
	}
	if n := e.countEvents(`SELECT count(*) FROM message_events WHERE message_id = $1 AND kind = 'click'`, id); n != 4 {
		t.Fatalf("%d click events, want 4", n)
	}
	if got := e.signals(id); strings.Join(got, ",") != "click" {
		t.Fatalf("signals %v after 4 clicks, want the first only", got)
	}
}

// Guessing codes from one IP runs into 429 with Retry-After; X-Forwarded-For from an untrusted
// peer does not help. One code hammered from many IPs runs into its own limit.
func TestLinkRateLimits(t *testing.T) {
	e := newHookEnv(t)
	var w *httptest.ResponseRecorder
	for i := range int(linkPerIP.burst) + 1 {
		req := httptest.NewRequest(http.MethodGet, "/l/guess"+strconv.Itoa(i), nil)
		req.RemoteAddr = "198.51.100.20:999"
		req.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i))
		w = do(e.router, req)
		if i < int(linkPerIP.burst) && w.Code != http.StatusNotFound {
			t.Fatalf("guess %d: HTTP %d, want 404", i, w.Code)
		}
	}
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("guess past the burst: HTTP %d Retry-After %q, want 429", w.Code, w.Header().Get("Retry-After"))
	}
	// The limit covers the unsubscribe page too.
	if w := e.get(http.MethodGet, "/u/another", phoneUA, "198.51.100.20:999"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("/u/ from the same IP: HTTP %d, want 429", w.Code)
	}

	_, code, _ := e.links("SMrate")
	for i := range int(linkPerCode.burst) + 1 {
		w = e.get(http.MethodHead, "/l/"+code, phoneUA, "192.0.2."+strconv.Itoa(i+1)+":1")
	}
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("one code from many IPs past its burst: HTTP %d, want 429", w.Code)
	}
}

// The unsubscribe page says nothing about which codes exist: unknown, expired and wrong-kind codes
// get the page a real code gets, on GET and on POST; only the real one opts anyone out.
func TestUnsubscribePageRevealsNothing(t *testing.T) {
	e := newHookEnv(t)
	ctx := context.Background()
	_, click, unsub := e.links("SMunsub")
	_, _, expired := e.links("SMexpired")
	if _, err := e.db.Pool.Exec(ctx, `UPDATE short_links SET expires_at = now() - interval '1 minute' WHERE code = $1`, expired); err != nil {
		t.Fatal(err)
	}
	ip := 0
	page := func(method, code string) (int, string) {
		ip++ // a fresh client each time: this test is not about rate limits
		w := e.get(method, "/u/"+code, phoneUA, "192.0.2."+strconv.Itoa(ip)+":1")
		return w.Code, w.Body.String()
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		wantCode, wantBody := 0, ""
		// The real code goes last on POST: it opts the number out.
		for i, code := range []string{"unknownCode12345678901", expired, click, "bad*code", unsub} {
			status, body := page(method, code)
			if i == 0 {
				wantCode, wantBody = status, body
				if status != http.StatusOK {
					t.Fatalf("%s of an unknown code: HTTP %d", method, status)
				}
				continue
			}
			if status != wantCode || body != wantBody {
				t.Errorf("%s of code #%d: HTTP %d %q, differs from an unknown code's HTTP %d %q", method, i, status, body, wantCode, wantBody)
			}
		}
		if off, _, _ := e.db.Suppressed(ctx, 62515, "sms", "+33612345678"); off != (method == http.MethodPost) {
			t.Fatalf("after %s: suppressed %v", method, off)
		}
	}
	// The confirmation is stored with its opt-out history and signalled once.
	h, err := e.db.SuppressionHistory(ctx, 62515, "sms", "+33612345678")
	if err != nil || len(h) != 1 || h[0].Source != store.SourceUnsubscribeURL || h[0].EventSeq == nil {
		t.Fatalf("history = %+v %v, want one unsubscribe_link opt-out with its event", h, err)
	}
	// Only the real code opted out: the expired link's message shares the number, so check the
	// reason's message.
	var msg string
	if err := e.db.Pool.QueryRow(ctx, `SELECT message_id::text FROM suppressions WHERE phone = '+33612345678'`).Scan(&msg); err != nil {
		t.Fatal(err)
	}
	if n := e.countEvents(`SELECT count(*) FROM short_links WHERE code = $1 AND message_id = $2`, unsub, msg); n != 1 {
		t.Fatalf("the opt-out came from message %s, not the real code's", msg)
	}
}

// With a database slower than HTTP_DB_TIMEOUT the request fails at once instead of waiting.
func TestLinkDatabaseDeadline(t *testing.T) {
	e := newHookEnv(t)
	_, code, _ := e.links("SMslow")
	cfg := e.cfg
	cfg.HTTP.DBTimeout = time.Nanosecond
	h := NewRouter(Deps{Log: slog.New(slog.DiscardHandler), Config: cfg, Temporal: e.tc, Store: e.db})
	req := httptest.NewRequest(http.MethodGet, "/l/"+code, nil)
	req.Header.Set("User-Agent", phoneUA)
	if w := do(h, req); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("HTTP %d, want 503 once the deadline passed", w.Code)
	}
	l, err := e.db.ShortLinkByCode(context.Background(), code, store.VisitNone)
	if err != nil || l.Clicks != 0 {
		t.Fatalf("link = %+v %v", l, err)
	}
}

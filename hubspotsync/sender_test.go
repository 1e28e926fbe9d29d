package hubspotsync_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"smsflow/hubspot"
	"smsflow/hubspot/hubspottest"
	"smsflow/hubspotsync"
	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/store"
)

const (
	portal   = int64(62515)
	tokenKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
)

// templates are the timeline templates of the tests; SMS_RESPONSE has none (a note).
var templates = map[string]string{"SMS_SENT": "1001", "SMS_NOT_SENT": "1002", "SMS_DELIVERED": "1003", "SMS_NOT_DELIVERED": "1004",
	"SMS_CLICKED": "1005", "SMS_UNSUBSCRIBED": "1007"}

// timelineScopes are the scopes of an install that granted timeline events.
var timelineScopes = []string{"oauth", "automation", "timeline"}

// clock is the tests' movable clock: the real time (the rows' due times are PostgreSQL's now())
// moved on by Add.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// env is one test's PostgreSQL, fake HubSpot and sender, with installed portals.
type env struct {
	ctx    context.Context
	db     *store.Store
	hs     *hubspottest.Fake
	client *hubspot.Client
	clock  *clock
	sender *hubspotsync.Sender
}

func newEnv(t testing.TB, scopes []string, portals ...int64) *env {
	t.Helper()
	ctx := context.Background()
	db := testenv.Store(t)
	hs := hubspottest.NewServer(t, "sync-client", "sync-secret")
	tokens, err := store.NewTokens(db, tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(portals) == 0 {
		portals = []int64{portal}
	}
	static := hubspot.StaticTokens{}
	for _, p := range portals {
		tok := "token-" + strconv.FormatInt(p, 10)
		static[p] = tok
		if err := tokens.Save(ctx, store.Token{PortalID: p, Kind: store.TokenPrivateApp, AccessToken: tok, Scopes: scopes}); err != nil {
			t.Fatal(err)
		}
		hs.AddToken(p, tok, 0)
		if err := hubspot.SetUpPortal(ctx, hubspot.NewClient(hs.URL, static), db, p); err != nil {
			t.Fatal(err)
		}
	}
	c := &clock{}
	client := hubspot.NewClient(hs.URL, static)
	client.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	client.Now, client.TimeZone, client.NoteDedupProperty = c.Now, hubspot.PortalTimeZones(db), "smsflow_event_id"
	e := &env{ctx: ctx, db: db, hs: hs, client: client, clock: c}
	e.sender = e.newSender()
	return e
}

func (e *env) newSender() *hubspotsync.Sender {
	return &hubspotsync.Sender{Store: e.db, HubSpot: e.client, Templates: templates, Now: e.clock.Now}
}

// msg is a message to a contact, and its changes.
type msg struct {
	id      string
	portal  int64
	contact string
	sentAt  time.Time
}

func newMsg(contact string, sentAt time.Time) msg {
	return msg{id: uuid.NewString(), portal: portal, contact: contact, sentAt: sentAt}
}

// publish records a change of the message as Publish does: the message row, the timeline row and
// the record's state with its properties row, in one transaction.
func (e *env) publish(t testing.TB, m msg, status outcome.Status, change func(*hubspotsync.Change)) {
	t.Helper()
	c := hubspotsync.Change{MessageID: m.id, PortalID: m.portal, ObjectType: "contact", ObjectID: m.contact, Status: status,
		At: e.clock.Now(), Tokens: map[string]string{"message_id": m.id, "status": string(status), "text": "Hello " + m.contact}}
	if change != nil {
		change(&c)
	}
	timeline, record := hubspotsync.Outbox(c)
	sent := m.sentAt
	row := store.Message{ID: m.id, PortalID: m.portal, ObjectType: "contact", ObjectID: m.contact, Phone: "+336123456" + last2(m.contact),
		Text: "Hello " + m.contact, Status: string(status), SentAt: &sent}
	if err := e.db.Publish(e.ctx, store.Publication{Message: &row, Outbox: []store.OutboxItem{timeline}, Record: &record}); err != nil {
		t.Fatal(err)
	}
}

func last2(s string) string {
	s = "00" + s
	return s[len(s)-2:]
}

// drain runs the sender until nothing is due and returns how many rows it finished.
func (e *env) drain(t testing.TB) int {
	t.Helper()
	n, err := e.sender.Drain(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// contact creates contacts in the fake HubSpot.
func (e *env) contacts(p int64, ids ...string) {
	for _, id := range ids {
		e.hs.SetObject(p, "contacts", id, map[string]string{"firstname": "C" + id})
	}
}

func (e *env) calls(prefix string) []hubspottest.Call { return e.hs.CallsTo(http.MethodPost, prefix) }

// inputs counts the inputs of batch calls.
func inputs(calls []hubspottest.Call) int {
	n := 0
	for _, c := range calls {
		var b struct {
			Inputs []json.RawMessage `json:"inputs"`
		}
		_ = json.Unmarshal(c.Body, &b)
		n += len(b.Inputs)
	}
	return n
}

// about says whether d is want, give or take the test's own run time.
func about(d, want time.Duration) bool { return d <= want && d > want-time.Second }

// pending counts the portal's rows not finished.
func (e *env) pending(t testing.TB) int {
	t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(e.ctx, `SELECT count(*) FROM hubspot_outbox WHERE done_at IS NULL AND dead_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// N queued changes are written in ceil(N/100) timeline calls and ceil(N/100) record updates.
func TestBatchDelivery(t *testing.T) {
	e := newEnv(t, timelineScopes)
	const n = 250
	for i := range n {
		id := strconv.Itoa(1000 + i)
		e.contacts(portal, id)
		e.publish(t, newMsg(id, e.clock.Now()), outcome.SMSSent, nil)
	}
	start, before := time.Now(), len(e.hs.Calls())
	if got := e.drain(t); got != 2*n {
		t.Fatalf("finished %d rows, want %d", got, 2*n)
	}
	t.Logf("%d queued status changes: %d HubSpot calls (%d timeline, %d record updates) in %s", n, len(e.hs.Calls())-before,
		len(e.calls("/crm/v3/timeline/events")), len(e.calls("/crm/v3/objects/contacts/batch/update")), time.Since(start))
	if got := len(e.hs.Calls()) - before; got != 6 {
		t.Errorf("%d HubSpot calls, want 6", got)
	}
	if tl := e.calls("/crm/v3/timeline/events"); len(tl) != 3 || !strings.HasSuffix(tl[0].Path, "/batch/create") || inputs(tl) != n {
		t.Errorf("%d timeline calls with %d inputs, want 3 batch calls with %d", len(tl), inputs(tl), n)
	}
	if up := e.calls("/crm/v3/objects/contacts/batch/update"); len(up) != 3 || inputs(up) != n {
		t.Errorf("%d record update calls with %d inputs, want 3 with %d", len(up), inputs(up), n)
	}
	if got := len(e.hs.Events()); got != n {
		t.Errorf("%d timeline events in HubSpot, want %d", got, n)
	}
	if got := e.hs.Object(portal, "contacts", "1249")[hubspotsync.PropLastStatus]; got != "SMS_SENT" {
		t.Errorf("contact 1249's last status = %q", got)
	}
	if e.pending(t) != 0 {
		t.Error("rows left pending")
	}
}

// Several due changes of one record make one update, with the newest values.
func TestPropertiesCollapse(t *testing.T) {
	e := newEnv(t, timelineScopes)
	e.contacts(portal, "701")
	m := newMsg("701", e.clock.Now())
	for _, s := range []outcome.Status{outcome.SMSSent, outcome.SMSDelivered, outcome.SMSClicked} {
		e.publish(t, m, s, nil)
	}
	e.drain(t)
	up := e.calls("/crm/v3/objects/contacts/batch/update")
	if len(up) != 1 || inputs(up) != 1 {
		t.Fatalf("%d record update calls with %d inputs, want one update of the record", len(up), inputs(up))
	}
	if got := e.hs.Object(portal, "contacts", "701"); got[hubspotsync.PropLastStatus] != "SMS_CLICKED" || got[hubspotsync.PropLastMessageID] != m.id ||
		got[hubspotsync.PropLastDestination] != "+33612345601" || got[hubspotsync.PropLastContent] != "Hello 701" {
		t.Errorf("contact = %v, want the clicked message's values", got)
	}
	if got := len(e.hs.Events()); got != 3 {
		t.Errorf("%d timeline events, want the 3 changes", got)
	}
}

// A TEN_SECONDLY limit that outlasts the client's retries pauses the portal; its rows go when
// the window has passed.
func TestTenSecondlyLimitPausesThePortal(t *testing.T) {
	e := newEnv(t, timelineScopes)
	e.contacts(portal, "701", "702")
	e.publish(t, newMsg("701", e.clock.Now()), outcome.SMSSent, nil)
	e.publish(t, newMsg("702", e.clock.Now()), outcome.SMSSent, nil)
	e.hs.Inject(hubspottest.Fault{PathPrefix: "/crm/v3/timeline/", Status: http.StatusTooManyRequests, Times: 4})
	if n := e.drain(t); n != 0 {
		t.Fatalf("finished %d rows while rate limited, want none", n)
	}
	until, reason, err := e.db.OutboxPause(e.ctx, portal)
	if err != nil || !strings.Contains(reason, hubspot.PolicyTenSecondly) || !about(until.Sub(e.clock.Now()), 10*time.Second) {
		t.Fatalf("portal pause = %v (%s from now) %q %v, want 10 s for TEN_SECONDLY_ROLLING", until, until.Sub(e.clock.Now()), reason, err)
	}
	if got := len(e.calls("/crm/v3/objects/")); got != 0 {
		t.Errorf("%d record calls while the portal is paused, want none", got)
	}
	e.clock.Add(11 * time.Second)
	if n := e.drain(t); n != 4 {
		t.Fatalf("finished %d rows after the window, want 4", n)
	}
	if len(e.hs.Events()) != 2 || e.hs.Object(portal, "contacts", "702")[hubspotsync.PropLastStatus] != "SMS_SENT" {
		t.Error("the rows were not written after the window")
	}
}

// A DAILY limit parks the portal's rows until the portal's next day (its time zone), without
// failing them; then they go.
func TestDailyLimitParksUntilTheReset(t *testing.T) {
	e := newEnv(t, timelineScopes)
	if err := e.db.SetPortalTimeZone(e.ctx, portal, "America/New_York"); err != nil {
		t.Fatal(err)
	}
	e.contacts(portal, "701")
	m := newMsg("701", e.clock.Now())
	e.publish(t, m, outcome.SMSSent, nil)
	e.hs.Inject(hubspottest.Fault{PathPrefix: "/crm/v3/timeline/", Status: http.StatusTooManyRequests, Policy: "DAILY"})
	e.drain(t)
	ny, _ := time.LoadLocation("America/New_York")
	reset := e.clock.Now().Add(hubspot.UntilNextDay(e.clock.Now(), ny))
	until, reason, err := e.db.OutboxPause(e.ctx, portal)
	if err != nil || until.Sub(reset).Abs() > time.Second || !strings.Contains(reason, "DAILY") {
		t.Fatalf("portal pause = %v %q %v, want until %v (New York's next day)", until, reason, err, reset)
	}
	rows, err := e.db.OutboxOfMessage(e.ctx, m.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.DeadAt != nil || r.DoneAt != nil || r.Attempts != 0 {
			t.Errorf("row %s after a DAILY limit: %+v, want pending, no attempt counted", r.DedupeKey, r)
		}
	}
	e.clock.Add(reset.Sub(e.clock.Now()) - time.Minute)
	if n := e.drain(t); n != 0 || len(e.hs.Events()) != 0 {
		t.Fatalf("finished %d rows a minute before the reset, want none", n)
	}
	e.clock.Add(2 * time.Minute)
	if n := e.drain(t); n != 2 || len(e.hs.Events()) != 1 {
		t.Fatalf("finished %d rows after the reset (%d events), want 2", n, len(e.hs.Events()))
	}
}

// A 5xx that outlasts the client's retries is retried later with back-off.
func TestServerErrorRetriesLater(t *testing.T) {
	e := newEnv(t, timelineScopes)
	e.contacts(portal, "701")
	m := newMsg("701", e.clock.Now())
	e.publish(t, m, outcome.SMSSent, nil)
	e.hs.Inject(hubspottest.Fault{PathPrefix: "/crm/v3/timeline/", Status: http.StatusServiceUnavailable, Times: 4})
	if n := e.drain(t); n != 1 {
		t.Fatalf("finished %d rows, want 1 (the properties)", n)
	}
	rows, _ := e.db.OutboxOfMessage(e.ctx, m.id)
	if len(rows) != 2 || rows[0].Attempts != 1 || rows[0].DoneAt != nil || !strings.Contains(rows[0].LastError, "503") ||
		!about(rows[0].NextAttemptAt.Sub(e.clock.Now()), 5*time.Second) {
		t.Fatalf("timeline row = %+v, want one attempt, due in 5 s, with the 503", rows[0])
	}
	e.clock.Add(6 * time.Second)
	if n := e.drain(t); n != 1 || len(e.hs.Events()) != 1 {
		t.Fatalf("finished %d rows on the retry, want 1", n)
	}
}

// A permanent refusal kills its row and is stored as a hubspot_error event of its message; the
// other rows of the batch are written.
func TestPermanentRefusalKillsOnlyItsRow(t *testing.T) {
	e := newEnv(t, timelineScopes)
	var msgs []msg
	for _, id := range []string{"701", "702", "703", "999"} { // contact 999 does not exist
		if id != "999" {
			e.contacts(portal, id)
		}
		m := newMsg(id, e.clock.Now())
		msgs = append(msgs, m)
		e.publish(t, m, outcome.SMSSent, nil)
	}
	// The timeline batch is refused as a whole, then its first event alone: that one is bad.
	e.hs.Inject(hubspottest.Fault{PathPrefix: "/crm/v3/timeline/", Status: http.StatusBadRequest, Times: 2})
	if n := e.drain(t); n != 8 {
		t.Fatalf("finished %d rows, want all 8", n)
	}
	if got := len(e.hs.Events()); got != 3 {
		t.Errorf("%d timeline events, want the 3 good ones", got)
	}
	for _, id := range []string{"701", "702", "703"} {
		if e.hs.Object(portal, "contacts", id)[hubspotsync.PropLastStatus] != "SMS_SENT" {
			t.Errorf("contact %s not written", id)
		}
	}
	refusals := func(m msg) []string {
		evs, err := e.db.Events(e.ctx, m.id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ev := range evs {
			if ev.Kind == "hubspot_error" && ev.Status == hubspot.ErrTypePermanent {
				out = append(out, ev.SourceEventID)
			}
		}
		return out
	}
	if got := refusals(msgs[0]); len(got) != 1 || !strings.HasPrefix(got[0], "hubspot_sync:timeline:") {
		t.Errorf("refusals of the first message = %v, want its timeline event", got)
	}
	if got := refusals(msgs[3]); len(got) != 1 || !strings.HasPrefix(got[0], "hubspot_sync:properties:") {
		t.Errorf("refusals of the missing contact's message = %v, want its properties", got)
	}
	if got := refusals(msgs[1]); len(got) != 0 {
		t.Errorf("refusals of a good message = %v", got)
	}
}

// Two senders (two workers) at once deliver each row once.
func TestConcurrentSendersDeliverEachRowOnce(t *testing.T) {
	portals := []int64{101, 102, 103, 104}
	e := newEnv(t, timelineScopes, portals...)
	const perPortal = 120
	for _, p := range portals {
		for i := range perPortal {
			id := strconv.Itoa(2000 + i)
			e.contacts(p, id)
			m := newMsg(id, e.clock.Now())
			m.portal = p
			e.publish(t, m, outcome.SMSSent, nil)
		}
	}
	a, b := e.newSender(), e.newSender()
	a.Concurrency, b.Concurrency = 1, 1
	var wg sync.WaitGroup
	start := make(chan struct{})
	finished := make([]int, 2)
	for i, s := range []*hubspotsync.Sender{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 50 { // passes until the outbox is empty, whoever empties it
				n, err := s.RunOnce(e.ctx)
				if err != nil {
					t.Error(err)
					return
				}
				finished[i] += n
				if e.pending(t) == 0 {
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	total := len(portals) * perPortal
	t.Logf("sender a finished %d rows, sender b %d", finished[0], finished[1])
	if finished[0]+finished[1] != 2*total {
		t.Errorf("the senders finished %d rows, want each of the %d once", finished[0]+finished[1], 2*total)
	}
	if got := inputs(e.calls("/crm/v3/timeline/events/batch/create")); got != total {
		t.Errorf("%d timeline events sent, want %d: some were sent twice", got, total)
	}
	if got := len(e.hs.Events()); got != total {
		t.Errorf("%d events in HubSpot, want %d", got, total)
	}
	updated := 0
	for _, c := range e.hs.CallsTo(http.MethodPost, "/crm/v3/objects/") {
		if strings.HasSuffix(c.Path, "/batch/update") {
			updated += inputs([]hubspottest.Call{c})
		}
	}
	if updated != total {
		t.Errorf("%d record updates, want %d", updated, total)
	}
}

// The last-message properties belong to the record's latest message: an older message's later
// events write none of them.
func TestOlderMessageWritesNoLastProperties(t *testing.T) {
	e := newEnv(t, timelineScopes)
	e.contacts(portal, "701")
	older := newMsg("701", e.clock.Now().Add(-time.Hour))
	newer := newMsg("701", e.clock.Now())
	e.publish(t, older, outcome.SMSSent, nil)
	e.publish(t, newer, outcome.SMSSent, nil)
	e.drain(t)
	before := len(e.calls("/crm/v3/objects/"))
	e.publish(t, older, outcome.SMSDelivered, nil)
	e.publish(t, older, outcome.SMSClicked, func(c *hubspotsync.Change) { c.EventID = "click-1" })
	e.drain(t)
	if got := e.hs.Object(portal, "contacts", "701"); got[hubspotsync.PropLastMessageID] != newer.id || got[hubspotsync.PropLastStatus] != "SMS_SENT" {
		t.Errorf("contact = %v, want the newer message's id and status", got)
	}
	for _, c := range e.calls("/crm/v3/objects/")[before:] {
		if strings.Contains(string(c.Body), older.id) || strings.Contains(string(c.Body), "SMS_CLICKED") {
			t.Errorf("an older message's event wrote the record: %s", c.Body)
		}
	}
	if got := len(e.hs.Events()); got != 4 {
		t.Errorf("%d timeline events, want 4: the older message's events still show on the timeline", got)
	}
}

// Once a message is UNSUBSCRIBED on the record, its later click or reply keeps it so; the opt-in
// (START) sets opted out back to false.
func TestUnsubscribedStaysAndOptInSetsBack(t *testing.T) {
	e := newEnv(t, timelineScopes)
	e.contacts(portal, "701")
	m := newMsg("701", e.clock.Now())
	e.publish(t, m, outcome.SMSSent, nil)
	e.publish(t, m, outcome.SMSDelivered, nil)
	e.publish(t, m, outcome.SMSUnsubscribed, func(c *hubspotsync.Change) { c.OptedOut = true })
	e.drain(t)
	if got := e.hs.Object(portal, "contacts", "701"); got[hubspotsync.PropLastStatus] != "SMS_UNSUBSCRIBED" || got[hubspotsync.PropOptedOut] != "true" {
		t.Fatalf("contact after the opt-out = %v", got)
	}
	e.publish(t, m, outcome.SMSClicked, func(c *hubspotsync.Change) { c.EventID = "click-1" })
	e.publish(t, m, outcome.SMSResponse, func(c *hubspotsync.Change) { c.EventID = "reply-1" })
	e.drain(t)
	if got := e.hs.Object(portal, "contacts", "701")[hubspotsync.PropLastStatus]; got != "SMS_UNSUBSCRIBED" {
		t.Errorf("last status after a click and a reply = %q, want SMS_UNSUBSCRIBED", got)
	}
	e.publish(t, m, outcome.SMSResponse, func(c *hubspotsync.Change) { c.EventID = "reply-2"; c.OptedIn = true })
	e.drain(t)
	if got := e.hs.Object(portal, "contacts", "701"); got[hubspotsync.PropOptedOut] != "false" || got[hubspotsync.PropLastStatus] != "SMS_UNSUBSCRIBED" {
		t.Errorf("contact after START = %v, want opted out false, last status still SMS_UNSUBSCRIBED", got)
	}
}

// Number invalid is set by the carrier's verdict and set back when a later message is delivered.
func TestNumberInvalidSetBack(t *testing.T) {
	e := newEnv(t, timelineScopes)
	e.contacts(portal, "701")
	first := newMsg("701", e.clock.Now().Add(-time.Hour))
	e.publish(t, first, outcome.SMSNotDelivered, func(c *hubspotsync.Change) { c.NumberInvalid = true })
	e.drain(t)
	if got := e.hs.Object(portal, "contacts", "701")[hubspotsync.PropNumberInvalid]; got != "true" {
		t.Fatalf("number invalid = %q after the verdict, want true", got)
	}
	later := newMsg("701", e.clock.Now())
	e.publish(t, later, outcome.SMSSent, nil)
	e.publish(t, later, outcome.SMSDelivered, nil)
	e.drain(t)
	if got := e.hs.Object(portal, "contacts", "701"); got[hubspotsync.PropNumberInvalid] != "false" || got[hubspotsync.PropLastStatus] != "SMS_DELIVERED" {
		t.Errorf("contact after a later delivery = %v, want number invalid false", got)
	}
}

// Timeline event or note follows the scopes the portal granted, with no 403 needed.
func TestScopesChooseTimelineOrNote(t *testing.T) {
	for _, c := range []struct {
		name   string
		scopes []string
		events int
		notes  int
	}{
		{name: "timeline granted", scopes: timelineScopes, events: 1},
		{name: "timeline not granted", scopes: []string{"oauth", "automation"}, notes: 1},
		{name: "scopes not recorded", scopes: nil, notes: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.scopes)
			e.contacts(portal, "701")
			e.publish(t, newMsg("701", e.clock.Now()), outcome.SMSSent, nil)
			e.drain(t)
			if got, notes := len(e.hs.Events()), len(e.hs.Notes()); got != c.events || notes != c.notes {
				t.Errorf("%d events and %d notes, want %d and %d", got, notes, c.events, c.notes)
			}
			if forbidden := e.calls("/crm/v3/timeline/"); c.events == 0 && len(forbidden) != 0 {
				t.Errorf("%d timeline calls for a portal without the scope, want none", len(forbidden))
			}
		})
	}
}

// A portal whose app refuses timeline events despite its scopes (403) gets notes, and is switched
// to notes for the next rows.
func TestTimelineForbiddenFallsBackToNotes(t *testing.T) {
	e := newEnv(t, timelineScopes)
	e.hs.TimelineForbidden = true
	e.contacts(portal, "701", "702")
	e.publish(t, newMsg("701", e.clock.Now()), outcome.SMSSent, nil)
	e.drain(t)
	e.publish(t, newMsg("702", e.clock.Now()), outcome.SMSSent, nil)
	e.drain(t)
	if got := len(e.hs.Notes()); got != 2 {
		t.Errorf("%d notes, want 2", got)
	}
	if got := len(e.calls("/crm/v3/timeline/")); got != 1 {
		t.Errorf("%d timeline calls, want the first only", got)
	}
	if p, _ := e.db.Portal(e.ctx, portal); p.TimelineMode != store.TimelineModeFallback {
		t.Errorf("portal timeline mode = %q, want fallback", p.TimelineMode)
	}
}

// A disconnected portal's rows are dropped with the reason, without a call.
func TestDisconnectedPortalDropsItsRows(t *testing.T) {
	e := newEnv(t, timelineScopes)
	m := newMsg("701", e.clock.Now())
	e.publish(t, m, outcome.SMSSent, nil)
	if err := e.db.DisconnectPortal(e.ctx, portal); err != nil {
		t.Fatal(err)
	}
	before := len(e.hs.Calls())
	if n := e.drain(t); n != 2 {
		t.Fatalf("finished %d rows, want 2", n)
	}
	if got := len(e.hs.Calls()) - before; got != 0 {
		t.Errorf("%d calls for a disconnected portal", got)
	}
	rows, _ := e.db.OutboxOfMessage(e.ctx, m.id)
	for _, r := range rows {
		if r.DeadAt == nil || r.LastError != "portal disconnected" {
			t.Errorf("row %s = %+v, want dead: portal disconnected", r.DedupeKey, r)
		}
	}
}

// BenchmarkDrain1000 measures the sender draining 1,000 queued status changes (2,000 rows: 1,000
// timeline events and 1,000 record updates) against the fake HubSpot.
func BenchmarkDrain1000(b *testing.B) {
	for range b.N {
		b.StopTimer()
		e := newEnv(b, timelineScopes)
		for i := range 1000 {
			id := strconv.Itoa(5000 + i)
			e.contacts(portal, id)
			e.publish(b, newMsg(id, e.clock.Now()), outcome.SMSSent, nil)
		}
		calls := len(e.hs.Calls())
		b.StartTimer()
		if n := e.drain(b); n != 2000 {
			b.Fatalf("finished %d rows", n)
		}
		b.ReportMetric(float64(len(e.hs.Calls())-calls), "calls/op")
	}
}

// A note costs one call on its first try; a row whose sender stopped mid-write is looked for in
// HubSpot first, so the note is not written twice.
func TestNoteWrittenOnceAfterASenderStopped(t *testing.T) {
	e := newEnv(t, []string{"oauth", "automation"})
	e.contacts(portal, "701", "702")
	fresh, orphan := newMsg("701", e.clock.Now()), newMsg("702", e.clock.Now())
	e.publish(t, fresh, outcome.SMSSent, nil)
	e.drain(t)
	if got := len(e.calls("/crm/v3/objects/notes")); got != 1 {
		t.Fatalf("%d note calls for a first try, want 1 (no search)", got)
	}

	// A sender claims the orphan's rows, writes its note and stops before recording it.
	e.publish(t, orphan, outcome.SMSSent, nil)
	rows, err := e.db.ClaimOutbox(e.ctx, portal, uuid.NewString(), e.clock.Now(), time.Minute, 10)
	if err != nil || len(rows) != 2 {
		t.Fatalf("claim = %d rows, %v", len(rows), err)
	}
	if err := e.client.CreateNote(e.ctx, portal, hubspot.Note{EventID: orphan.id + "-sms_sent", ObjectType: "contacts", ObjectID: "702",
		Body: "SMS SENT", Timestamp: e.clock.Now(), FirstTry: true}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * time.Minute) // the dead sender's lease ends
	if n := e.drain(t); n != 2 {
		t.Fatalf("finished %d rows after the lease, want 2", n)
	}
	notes := 0
	for _, n := range e.hs.Notes() {
		if n.Properties["smsflow_event_id"] == orphan.id+"-sms_sent" {
			notes++
		}
	}
	if notes != 1 || len(e.calls("/crm/v3/objects/notes/search")) != 1 {
		t.Errorf("%d notes of the orphan, %d searches; want one note, found by one search", notes, len(e.calls("/crm/v3/objects/notes/search")))
	}
}

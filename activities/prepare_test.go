package activities_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"smsflow/activities"
	"smsflow/compliance"
	"smsflow/encoding"
	"smsflow/outcome"
	"smsflow/phone"
	"smsflow/store"
)

// monday10 is a time inside every country window of the tests (Monday 10:00 in Paris).
var monday10 = time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)

// prepareInput is a contact's message as the workflow builds it.
func prepareInput(id, objectID string, known map[string]string, text, messageType string) activities.PrepareInput {
	return activities.PrepareInput{
		Recipient: activities.RecipientInput{PortalID: portal, ObjectType: "contact", ObjectID: objectID, Country: "FR",
			Channel: "sms", MessageType: messageType, Known: known, Tokens: []string{"firstname"}},
		Render: activities.RenderInput{MessageID: id, PortalID: portal, Text: text, MessageType: messageType, Now: monday10},
		Message: activities.StatusEvent{MessageID: id, PortalID: portal, ObjectType: "contact", ObjectID: objectID,
			Channel: "sms", MessageType: messageType, Text: text, At: monday10},
	}
}

// The action's payload holds the enrolled record's properties: when it has the phone and every
// token the text uses, Prepare does not read the record; otherwise it reads it once.
func TestPrepareReadsTheRecordOnlyWhenThePayloadLacksSomething(t *testing.T) {
	record := map[string]string{"mobilephone": "+33687654321", "firstname": "Record"}
	cases := []struct {
		name      string
		known     map[string]string
		reads     int
		wantPhone string
		wantName  string
	}{
		{"phone and tokens in the payload", map[string]string{"mobilephone": "06 12 34 56 78", "firstname": "Payload"}, 0, "+33612345678", "Payload"},
		{"a token missing from the payload", map[string]string{"mobilephone": "06 12 34 56 78"}, 1, "+33687654321", "Record"},
		{"no phone in the payload", map[string]string{"firstname": "Payload"}, 1, "+33687654321", "Record"},
		{"an empty phone in the payload", map[string]string{"mobilephone": " ", "firstname": "Payload"}, 1, "+33687654321", "Record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			s.hs.SetObject(portal, "contacts", "101", record)
			id := newID()
			p, err := s.acts.Prepare(s.ctx, prepareInput(id, "101", c.known, "Bonjour {{contact.firstname}}", "transactional"))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.calls("GET", "/crm/v3/objects/"); got != c.reads {
				t.Errorf("record reads = %d, want %d", got, c.reads)
			}
			r := p.Recipient
			if r.ErrorCode != "" || r.Phone != c.wantPhone || r.Region != "FR" || r.ObjectType != "contact" || r.ObjectID != "101" ||
				r.Tokens["firstname"] != c.wantName {
				t.Errorf("recipient = %+v, want %s of contact 101 with firstname %s", r, c.wantPhone, c.wantName)
			}
			if r.PhoneHash != activities.PhoneHash([]byte("acts-phone-key"), c.wantPhone) || strings.Contains(r.PhoneHash, "336") {
				t.Errorf("phone hash = %q, want the keyed hash of the number", r.PhoneHash)
			}
			if want := "Bonjour " + c.wantName; p.Rendered.Text != want {
				t.Errorf("text = %q, want %q", p.Rendered.Text, want)
			}
		})
	}
}

// Prepare reads the portal's settings over the defaults and creates the PENDING message log row
// with the rendered text.
func TestPrepareSettingsAndMessageRow(t *testing.T) {
	s := newStack(t, stackOptions{})
	if err := s.db.SetPortalSettings(s.ctx, portal, map[string]any{"listen_after": "2s", "max_segments": 1, "delivery_timeout": "nonsense"}); err != nil {
		t.Fatal(err)
	}
	id := newID()
	in := prepareInput(id, "102", map[string]string{"mobilephone": "+33612345678", "firstname": "Léa"}, "Bonjour {{contact.firstname}}", "transactional")
	p, err := s.acts.Prepare(s.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := activities.Settings{DeliveryTimeout: 72 * time.Hour, ListenAfter: 2 * time.Second, DefaultWait: 24 * time.Hour, MaxSegments: 1}
	if p.Settings != want {
		t.Errorf("settings = %+v, want %+v", p.Settings, want)
	}
	m, err := s.db.GetMessage(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != string(outcome.Pending) || m.Phone != "+33612345678" || m.Country != "FR" || m.Text != "Bonjour Léa" ||
		m.Encoding != p.Rendered.Encoding || m.Segments != 1 || m.SendAt == nil || !m.SendAt.Equal(monday10) {
		t.Errorf("message row = %+v, want PENDING to +33612345678 with the rendered text and send time", m)
	}
	// The portal's max_segments applies when the action gives none: two parts are too many.
	in = prepareInput(newID(), "102", map[string]string{"mobilephone": "+33612345678", "firstname": ""}, strings.Repeat("a", 200), "transactional")
	if p, err := s.acts.Prepare(s.ctx, in); err != nil || p.Rendered.ErrorCode != outcome.Code(encoding.CodeMessageTooLong) {
		t.Errorf("200 characters with max_segments 1 = %+v, %v; want %s", p.Rendered, err, encoding.CodeMessageTooLong)
	}
}

// A deal has no phone: its associated contact's, then its company's; neither → NO_PHONE.
func TestPrepareRecipientOfADeal(t *testing.T) {
	cases := []struct {
		name     string
		contact  map[string]string
		company  map[string]string // nil: no company associated
		wantType string
		wantID   string
		phone    string
		code     outcome.Code
	}{
		{"the contact's phone", map[string]string{"mobilephone": "+33612345678", "firstname": "Ana"}, map[string]string{"phone": "+33698765432"}, "contact", "501", "+33612345678", ""},
		{"the company's when the contact has none", map[string]string{"firstname": "Ana"}, map[string]string{"phone": "+33698765432"}, "company", "601", "+33698765432", ""},
		{"no phone anywhere", map[string]string{"firstname": "Ana"}, nil, "", "", "", outcome.NoPhone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			s.hs.SetObject(portal, "deals", "401", map[string]string{"dealname": "Big deal"})
			s.hs.SetObject(portal, "contacts", "501", c.contact)
			s.hs.Associate(portal, "deals", "401", "contacts", "501")
			if c.company != nil {
				s.hs.SetObject(portal, "companies", "601", c.company)
				s.hs.Associate(portal, "deals", "401", "companies", "601")
			}
			id := newID()
			in := prepareInput(id, "401", map[string]string{"dealname": "Big deal"}, "Bonjour {{contact.firstname}}", "transactional")
			in.Recipient.ObjectType, in.Message.ObjectType = "deal", "deal"
			p, err := s.acts.Prepare(s.ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Recipient
			if r.ErrorCode != c.code || r.ObjectType != c.wantType || r.ObjectID != c.wantID || r.Phone != c.phone {
				t.Fatalf("recipient = %+v, want %s %s %s code %q", r, c.wantType, c.wantID, c.phone, c.code)
			}
			if c.code != "" {
				if !strings.Contains(r.ErrorMessage, "deal") || p.Rendered.Text != "" {
					t.Errorf("NO_PHONE: message %q, rendered %+v; want a reason naming the deal's associations and nothing rendered", r.ErrorMessage, p.Rendered)
				}
				return
			}
			if c.wantType == "contact" && p.Rendered.Text != "Bonjour Ana" {
				t.Errorf("text = %q, want the contact's first name", p.Rendered.Text)
			}
		})
	}
}

// A deal's associations cannot be read on a disconnected portal: NOT_SENT PORTAL_DISCONNECTED,
// not an error to retry.
func TestPrepareDealOnADisconnectedPortal(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.hs.SetObject(portal, "deals", "401", map[string]string{"dealname": "Big deal"})
	if err := s.db.DisconnectPortal(s.ctx, portal); err != nil {
		t.Fatal(err)
	}
	in := prepareInput(newID(), "401", nil, "Bonjour", "transactional")
	in.Recipient.ObjectType = "deal"
	p, err := s.acts.Prepare(s.ctx, in)
	if err != nil || p.Recipient.ErrorCode != outcome.PortalDisconnected {
		t.Fatalf("Prepare = %+v, %v; want %s", p.Recipient, err, outcome.PortalDisconnected)
	}
	if n := len(s.hs.CallsTo("GET", "/crm/")); n != 0 {
		t.Errorf("%d HubSpot reads for a disconnected portal, want 0", n)
	}
}

// A number that cannot be sent to ends the message before anything is rendered, with the code
// of the phone package or OPTED_OUT; the message log row still records it.
func TestPrepareRecipientOutcomes(t *testing.T) {
	cases := []struct {
		name  string
		phone string
		code  outcome.Code
	}{
		{"opted out (national format matched as E.164)", "06 12 34 56 78", outcome.OptedOut},
		{"not a number", "12345", phone.CodeInvalid},
		{"a fixed line", "+33 1 23 45 67 89", phone.CodeNotAMobile},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			if err := s.db.Suppress(s.ctx, portal, "sms", "+33612345678", "stop_reply", ""); err != nil {
				t.Fatal(err)
			}
			id := newID()
			p, err := s.acts.Prepare(s.ctx, prepareInput(id, "103", map[string]string{"mobilephone": c.phone, "firstname": "Jo"}, "Bonjour", "marketing"))
			if err != nil {
				t.Fatal(err)
			}
			if p.Recipient.ErrorCode != c.code || p.Recipient.ErrorMessage == "" {
				t.Errorf("recipient = %+v, want code %s with a message", p.Recipient, c.code)
			}
			if p.Rendered.Text != "" || p.Rendered.Segments != 0 {
				t.Errorf("rendered %+v for a recipient that cannot be sent to", p.Rendered)
			}
			m, err := s.db.GetMessage(s.ctx, id)
			if err != nil || m.Status != string(outcome.Pending) {
				t.Errorf("message row = %+v, %v; want it PENDING", m, err)
			}
		})
	}
}

// Render: the STOP mention France requires of marketing, a blocked content rule, a text over
// the segment limit.
func TestPrepareRender(t *testing.T) {
	cases := []struct {
		name        string
		phone       string
		messageType string
		text        string
		wantSuffix  string       // of the rendered text, when no code
		code        outcome.Code // Rendered.ErrorCode
	}{
		{"French marketing gets the STOP mention", "+33612345678", "marketing", "Soldes ce week-end", "Soldes ce week-end\nSTOP au 36180", ""},
		{"a STOP mention already there is not repeated", "+33612345678", "marketing", "Soldes\nSTOP au 36180", "Soldes\nSTOP au 36180", ""},
		{"French transactional does not", "+33612345678", "transactional", "Votre code: 1234", "Votre code: 1234", ""},
		{"a public shortener to the US is blocked", "+12127365000", "marketing", "Offer at bit.ly/deal", "", compliance.CodePublicShortener},
		{"too long", "+33612345678", "transactional", strings.Repeat("a", 766), "", outcome.Code(encoding.CodeMessageTooLong)},
		{"a message type that is neither", "+33612345678", "promo", "Hi", "", outcome.InvalidMessageType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			in := prepareInput(newID(), "104", map[string]string{"mobilephone": c.phone, "firstname": ""}, c.text, c.messageType)
			p, err := s.acts.Prepare(s.ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Rendered
			if r.ErrorCode != c.code {
				t.Fatalf("code = %q (%s), want %q", r.ErrorCode, r.ErrorMessage, c.code)
			}
			if c.code != "" {
				if r.ErrorMessage == "" || r.Text != "" {
					t.Errorf("rendered = %+v, want a message and no text", r)
				}
				return
			}
			if r.Text != c.wantSuffix || r.Encoding != "GSM7" || r.Segments != 1 || r.Characters != len(c.wantSuffix) {
				t.Errorf("rendered = %+v, want %q in one GSM-7 part", r, c.wantSuffix)
			}
		})
	}
}

var (
	shortLink = regexp.MustCompile(`/l/([A-Za-z0-9_-]+)`)
	unsubLink = regexp.MustCompile(`/u/([A-Za-z0-9_-]+)`)
)

// shorten_urls replaces links by PUBLIC_BASE_URL/l/<code> (UTM added to the target) and
// {UNSUB_URL} by PUBLIC_BASE_URL/u/<code>, each a stored short link of the message.
func TestPrepareShortensLinks(t *testing.T) {
	s := newStack(t, stackOptions{})
	id := newID()
	in := prepareInput(id, "105", map[string]string{"mobilephone": "+33612345678", "firstname": ""},
		"Voir https://shop.example.com/promo - desinscription {UNSUB_URL}", "transactional")
	in.Render.ShortenURLs, in.Render.UTM = true, map[string]string{"utm_source": "hubspot"}
	p, err := s.acts.Prepare(s.ctx, in)
	if err != nil || p.Rendered.ErrorCode != "" {
		t.Fatalf("Prepare = %+v, %v", p.Rendered, err)
	}
	text := p.Rendered.Text
	if strings.Contains(text, "shop.example.com") || !strings.HasPrefix(text, "Voir "+s.baseURL+"/l/") || !strings.Contains(text, s.baseURL+"/u/") {
		t.Fatalf("text = %q, want the link on %s/l/ and the unsubscribe link on %s/u/", text, s.baseURL, s.baseURL)
	}
	links := []struct {
		re     *regexp.Regexp
		kind   string
		target string
	}{
		{shortLink, store.LinkRedirect, "https://shop.example.com/promo?utm_source=hubspot"},
		{unsubLink, store.LinkUnsubscribe, ""},
	}
	for _, l := range links {
		code := l.re.FindStringSubmatch(text)[1]
		got, err := s.db.ShortLinkByCode(s.ctx, code, store.VisitNone)
		if err != nil {
			t.Fatalf("short link %s: %v", code, err)
		}
		if got.MessageID != id || got.PortalID != portal || got.Kind != l.kind || got.TargetURL != l.target {
			t.Errorf("short link %s = %+v, want %s of %s to %q", code, got, l.kind, id, l.target)
		}
	}
	// A retried Prepare gets the same codes.
	again, err := s.acts.Prepare(s.ctx, in)
	if err != nil || again.Rendered.Text != text {
		t.Errorf("retried Prepare text = %q, %v; want %q", again.Rendered.Text, err, text)
	}
}

// The action's "Unsubscribe link" box adds the link at the end of a text without {UNSUB_URL};
// a text that places it keeps its one link; without the box and the token there is none.
func TestPrepareUnsubscribeBox(t *testing.T) {
	s := newStack(t, stackOptions{})
	for _, tc := range []struct {
		text  string
		box   bool
		links int
		ends  bool // the link ends the text
	}{
		{"Soldes ce week-end", true, 1, true},
		{"Desinscription {UNSUB_URL} - soldes", true, 1, false},
		{"Soldes ce week-end", false, 0, false},
	} {
		in := prepareInput(newID(), "106", map[string]string{"mobilephone": "+33612345678", "firstname": ""}, tc.text, "transactional")
		in.Render.UnsubscribeURL = tc.box
		p, err := s.acts.Prepare(s.ctx, in)
		if err != nil || p.Rendered.ErrorCode != "" {
			t.Fatalf("Prepare(%q) = %+v, %v", tc.text, p.Rendered, err)
		}
		text := p.Rendered.Text
		found := unsubLink.FindAllStringIndex(text, -1)
		if len(found) != tc.links || strings.Contains(text, "{UNSUB_URL}") {
			t.Errorf("%q (box %v) became %q: %d unsubscribe links, want %d", tc.text, tc.box, text, len(found), tc.links)
			continue
		}
		if tc.ends && !unsubLink.MatchString(text[strings.LastIndex(text, "\n")+1:]) {
			t.Errorf("%q (box %v) became %q: the link is not on its last line", tc.text, tc.box, text)
		}
	}
}

// French marketing may not go on a Sunday: it is held to Monday 08:00 in Paris; inside the
// window, or transactional, it goes at once.
func TestPrepareSendTime(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	sunday := time.Date(2026, 3, 15, 19, 0, 0, 0, paris)
	mondayEight := time.Date(2026, 3, 16, 8, 0, 0, 0, paris)
	mondayTen := time.Date(2026, 3, 16, 10, 0, 0, 0, paris)
	cases := []struct {
		name        string
		now         time.Time
		messageType string
		sendAt      time.Time
		held        bool
	}{
		{"marketing on Sunday evening", sunday, "marketing", mondayEight, true},
		{"marketing on Monday morning", mondayTen, "marketing", mondayTen, false},
		{"transactional on Sunday evening", sunday, "transactional", sunday, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			id := newID()
			in := prepareInput(id, "106", map[string]string{"mobilephone": "+33612345678", "firstname": ""}, "Soldes", c.messageType)
			in.Render.Now = c.now
			p, err := s.acts.Prepare(s.ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Rendered
			if !r.SendAt.Equal(c.sendAt) || r.Held != c.held || r.RulesVersion == "" || (c.held && r.HeldReason == "") {
				t.Errorf("send time = %s held=%v (%s), want %s held=%v", r.SendAt.In(paris), r.Held, r.HeldReason, c.sendAt, c.held)
			}
			m, err := s.db.GetMessage(s.ctx, id)
			if err != nil || m.SendAt == nil || !m.SendAt.Equal(c.sendAt) {
				t.Errorf("message row send_at = %v, %v; want %s", m.SendAt, err, c.sendAt)
			}
		})
	}
}

// The attack: a contact property holding a URL. Only links written in the template become
// tracked redirects on our domain; the property's URL is sent as the record holds it, and a
// token inside a template link is escaped, never its host. With the portal's link_hosts, a
// template link to another host is not tracked either.
func TestPrepareShortensOnlyTheTemplateLinks(t *testing.T) {
	s := newStack(t, stackOptions{})
	evil := "https://evil.example/phish"
	known := map[string]string{"mobilephone": "+33612345678", "firstname": evil}
	shorten := func(id, text string) activities.Prepared {
		t.Helper()
		in := prepareInput(id, "107", known, text, "transactional")
		in.Render.ShortenURLs = true
		p, err := s.acts.Prepare(s.ctx, in)
		if err != nil || p.Rendered.ErrorCode != "" {
			t.Fatalf("Prepare = %+v, %v", p.Rendered, err)
		}
		return p
	}
	targets := func(id string) []string {
		t.Helper()
		rows, err := s.db.Pool.Query(s.ctx, `SELECT target_url FROM short_links WHERE message_id = $1 AND kind = 'link' ORDER BY target_url`, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var u string
			_ = rows.Scan(&u)
			out = append(out, u)
		}
		return out
	}

	id := newID()
	p := shorten(id, "Hi {{contact.firstname}}, your order: https://shop.example/o?ref={{ contact.firstname }}")
	text := p.Rendered.Text
	if !strings.HasPrefix(text, "Hi "+evil+", your order: "+s.baseURL+"/l/") || strings.Count(text, "/l/") != 1 {
		t.Fatalf("text = %q: want the property's URL as is and one tracked link, the template's", text)
	}
	if got := targets(id); len(got) != 1 || got[0] != "https://shop.example/o?ref=https%3A%2F%2Fevil.example%2Fphish" {
		t.Fatalf("short link targets %q: want only the template's link, with the value escaped", got)
	}

	// A template link whose host is a token is not tracked.
	id = newID()
	known["website"] = "evil.example"
	shortenHost := prepareInput(id, "107", known, "Visit https://{{contact.website}}/deal", "transactional")
	shortenHost.Recipient.Tokens = []string{"website"}
	shortenHost.Render.ShortenURLs = true
	if p, err := s.acts.Prepare(s.ctx, shortenHost); err != nil || strings.Contains(p.Rendered.Text, "/l/") || len(targets(id)) != 0 {
		t.Fatalf("a link whose host is a token: %q, %v, targets %q", p.Rendered.Text, err, targets(id))
	}

	// The portal's allowlist: only its hosts are tracked.
	if err := s.db.SetPortalSettings(s.ctx, portal, map[string]any{"link_hosts": []any{"*.brand.example"}}); err != nil {
		t.Fatal(err)
	}
	id = newID()
	p = shorten(id, "New: https://go.brand.example/new and https://other.example/x")
	if got := targets(id); len(got) != 1 || got[0] != "https://go.brand.example/new" || !strings.Contains(p.Rendered.Text, "https://other.example/x") {
		t.Fatalf("with link_hosts: text %q, targets %q", p.Rendered.Text, got)
	}
}

// The attack: an action naming a sender the portal does not own (another customer's brand).
// Prepare ends the message NOT_SENT SENDER_NOT_ALLOWED before reading HubSpot.
func TestPrepareRefusesASenderThePortalDoesNotOwn(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.hs.SetObject(portal, "contacts", "108", map[string]string{"mobilephone": "+33612345678", "firstname": "Ana"})
	for _, add := range []struct {
		portal    int64
		sender    string
		asDefault bool
	}{{portal, "ACME", false}, {portal, "+33612345600", true}, {portal + 1, "RIVAL", false}} {
		if err := s.db.AddSender(s.ctx, add.portal, add.sender, add.asDefault, store.SenderManual); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		sender     string
		allowed    bool
		wantSender string
	}{
		{"ACME", true, "ACME"},
		{"Acme", true, "Acme"},
		{"33612345600", true, "33612345600"},
		{"", true, "+33612345600"}, // the portal's default
		{"RIVAL", false, ""},       // another portal's
		{"BANK", false, ""},
	} {
		t.Run(tc.sender, func(t *testing.T) {
			id := newID()
			in := prepareInput(id, "108", nil, "Bonjour {{contact.firstname}}", "transactional")
			in.Message.Sender = tc.sender
			reads := s.calls("GET", "/crm/v3/objects/")
			p, err := s.acts.Prepare(s.ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.allowed {
				if p.Rendered.ErrorCode != outcome.SenderNotAllowed || !strings.Contains(p.Rendered.ErrorMessage, tc.sender) || p.Rendered.Text != "" {
					t.Fatalf("sender %q: %+v, want SENDER_NOT_ALLOWED", tc.sender, p.Rendered)
				}
				if s.calls("GET", "/crm/v3/objects/") != reads {
					t.Fatal("a refused sender still read the record")
				}
				if m, err := s.db.GetMessage(s.ctx, id); err != nil || m.Status != string(outcome.Pending) {
					t.Fatalf("message row %+v, %v", m, err)
				}
				return
			}
			if p.Rendered.ErrorCode != "" || p.Sender != tc.wantSender || p.Rendered.Text != "Bonjour Ana" {
				t.Fatalf("sender %q: %+v, sender %q; want it allowed as %q", tc.sender, p.Rendered, p.Sender, tc.wantSender)
			}
		})
	}
}

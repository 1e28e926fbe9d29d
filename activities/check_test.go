package activities_test

import (
	"testing"
	"time"

	"smsflow/activities"
	"smsflow/outcome"
)

// checkInput is a message to contact 301 about to be dispatched.
func checkInput(phone, country, messageType string) activities.DispatchCheckInput {
	return activities.DispatchCheckInput{MessageID: newID(), PortalID: portal, Channel: "sms", Phone: phone, Country: country,
		MessageType: messageType, ObjectType: "contact", ObjectID: "301", Sender: "ACME", SendingUser: "u1", Now: monday10}
}

// What may have changed while the message waited: the suppression list, the portal's
// connection, consent (Ireland requires it for marketing).
func TestCheckBeforeDispatch(t *testing.T) {
	const irish, french = "+353851234567", "+33612345678"
	cases := []struct {
		name    string
		arrange func(t *testing.T, s *stack)
		record  map[string]string // contact 301
		in      activities.DispatchCheckInput
		code    outcome.Code
		reads   int // of the record (the consent property)
	}{
		{name: "nothing against it", in: checkInput(french, "FR", "marketing")},
		{name: "opted out while waiting", arrange: func(t *testing.T, s *stack) {
			if err := s.db.Suppress(s.ctx, portal, "sms", french, "stop_reply", ""); err != nil {
				t.Fatal(err)
			}
		}, in: checkInput(french, "FR", "marketing"), code: outcome.OptedOut},
		{name: "opted out, then the number's data purged (the opt-out kept as a hash)", arrange: func(t *testing.T, s *stack) {
			if err := s.db.Suppress(s.ctx, portal, "sms", french, "stop_reply", ""); err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.Pool.Exec(s.ctx, `UPDATE suppressions SET created_at = now() - interval '2 years'`); err != nil {
				t.Fatal(err)
			}
			if p, err := s.db.PurgeBefore(s.ctx, time.Now().AddDate(-1, 0, 0), 100); err != nil || p.HashedSuppressions != 1 {
				t.Fatalf("purge = %+v, %v; want the suppression hashed", p, err)
			}
		}, in: checkInput(french, "FR", "marketing"), code: outcome.OptedOut},
		{name: "opted out of another channel only", arrange: func(t *testing.T, s *stack) {
			if err := s.db.Suppress(s.ctx, portal, "voice", french, "stop_reply", ""); err != nil {
				t.Fatal(err)
			}
		}, in: checkInput(french, "FR", "marketing")},
		{name: "portal disconnected", arrange: func(t *testing.T, s *stack) {
			if err := s.db.DisconnectPortal(s.ctx, portal); err != nil {
				t.Fatal(err)
			}
		}, in: checkInput(french, "FR", "marketing"), code: outcome.PortalDisconnected},
		{name: "Irish marketing without consent", record: map[string]string{"mobilephone": irish},
			in: checkInput(irish, "IE", "marketing"), code: outcome.ConsentMissing, reads: 1},
		{name: "Irish marketing with consent false", record: map[string]string{"mobilephone": irish, activities.PropSMSConsent: "false"},
			in: checkInput(irish, "IE", "marketing"), code: outcome.ConsentMissing, reads: 1},
		{name: "Irish marketing with consent", record: map[string]string{"mobilephone": irish, activities.PropSMSConsent: "true"},
			in: checkInput(irish, "IE", "marketing"), reads: 1},
		{name: "Irish marketing with consent in the portal's own property", arrange: func(t *testing.T, s *stack) {
			if err := s.db.SetPortalSettings(s.ctx, portal, map[string]any{"consent_property": "sms_opt_in"}); err != nil {
				t.Fatal(err)
			}
		}, record: map[string]string{"mobilephone": irish, "sms_opt_in": "Yes", activities.PropSMSConsent: "false"},
			in: checkInput(irish, "IE", "marketing"), reads: 1},
		{name: "Irish transactional needs no consent", record: map[string]string{"mobilephone": irish},
			in: checkInput(irish, "IE", "transactional")},
		{name: "French marketing needs no consent", record: map[string]string{"mobilephone": french},
			in: checkInput(french, "FR", "marketing")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			if c.arrange != nil {
				c.arrange(t, s)
			}
			if c.record != nil {
				s.hs.SetObject(portal, "contacts", "301", c.record)
			}
			got, err := s.acts.CheckBeforeDispatch(s.ctx, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.ErrorCode != c.code || (c.code != "") != (got.ErrorMessage != "") || got.DeferUntil != nil {
				t.Errorf("check = %+v, want code %q", got, c.code)
			}
			if n := s.calls("GET", "/crm/v3/objects/contacts/301"); n != c.reads {
				t.Errorf("record reads = %d, want %d", n, c.reads)
			}
		})
	}
}

// Quotas are counted at the check: over the limit the message is refused (QUOTA_EXCEEDED) or,
// where the portal says so, deferred to the next period — for marketing, to the first instant
// of it inside the country's window; a retried check is not counted twice.
func TestCheckBeforeDispatchQuota(t *testing.T) {
	cases := []struct {
		onExceed    string
		messageType string
		code        outcome.Code
		defer_      *time.Time
	}{
		{"reject", "transactional", outcome.QuotaExceeded, nil},
		{"defer", "transactional", "", ptr(time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC))},
		// The next UTC day starts at 01:00 in Paris, outside the window: 08:00 Paris.
		{"defer", "marketing", "", ptr(time.Date(2026, 3, 17, 7, 0, 0, 0, time.UTC))},
	}
	for _, c := range cases {
		t.Run(c.onExceed+" "+c.messageType, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			if err := s.db.SetQuota(s.ctx, portal, "sender", "*", 1, 100, c.onExceed); err != nil {
				t.Fatal(err)
			}
			first := checkInput("+33612345678", "FR", c.messageType)
			for i := range 2 { // the second is a retried activity
				if got, err := s.acts.CheckBeforeDispatch(s.ctx, first); err != nil || got != (activities.DispatchCheck{}) {
					t.Fatalf("first message, try %d = %+v, %v; want it within the quota", i+1, got, err)
				}
			}
			got, err := s.acts.CheckBeforeDispatch(s.ctx, checkInput("+33612345678", "FR", c.messageType))
			if err != nil {
				t.Fatal(err)
			}
			if got.ErrorCode != c.code {
				t.Errorf("second message code = %q (%s), want %q", got.ErrorCode, got.ErrorMessage, c.code)
			}
			switch {
			case c.defer_ == nil && got.DeferUntil != nil:
				t.Errorf("rejected message deferred until %s", got.DeferUntil)
			case c.defer_ != nil && (got.DeferUntil == nil || !got.DeferUntil.Equal(*c.defer_) || got.DeferReason == ""):
				t.Errorf("deferred = %v (%q), want until %s with a reason", got.DeferUntil, got.DeferReason, c.defer_)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

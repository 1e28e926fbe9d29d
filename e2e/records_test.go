package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"smsflow/outcome"
	"smsflow/workflows"
)

// A deal has no phone: the message goes to its associated contact's, and HubSpot hears of it on
// that contact.
func TestDealUsesAssociatedContact(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.hubspot.SetObject(portal, "deals", "77", map[string]string{"dealname": "Renewal"})
	s.hubspot.SetObject(portal, "companies", "88", map[string]string{"phone": "+33145000000"})
	contact(s, "911", "+33612345677")
	s.hubspot.Associate(portal, "deals", "77", "companies", "88")
	s.hubspot.Associate(portal, "deals", "77", "contacts", "911")
	if resp, err := s.Execute(context.Background(), "cb-deal", "DEAL", 77, inputs("wait_for", "delivery")); err != nil {
		t.Fatalf("%v %+v", err, resp)
	}
	expectCompletion(t, s, "cb-deal", outcome.SMSDelivered, "")
	id := workflows.MessageIDForCallback(portal, "cb-deal")
	if got := s.record("contacts", "911")["smsflow_last_message_id"]; got != id {
		t.Fatalf("the contact's last message id = %q, want %s", got, id)
	}
	m, err := s.db.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if m.ObjectType != "deal" || m.Phone != "+33612345677" {
		t.Fatalf("message log = %s %s to %s; want the deal's message to its contact's mobile", m.ObjectType, m.ObjectID, m.Phone)
	}
	// The deal's timeline shows the message too: notes, the harness having timeline templates for
	// contacts only.
	s.synced()
	onDeal := map[string]bool{}
	for _, n := range s.hubspot.Notes() {
		for _, a := range n.Associations {
			if to, _ := a["to"].(map[string]any); to["id"] == "77" {
				onDeal[n.Properties["hs_note_body"][:strings.Index(n.Properties["hs_note_body"], "</strong>")]] = true
			}
		}
	}
	if len(onDeal) != 2 {
		t.Errorf("notes on deal 77: %v, want its sent and delivered changes", onDeal)
	}
}

// {UNSUB_URL} becomes a link whose page asks first (a GET, as link previews do, opts no one out)
// and, confirmed, opts the number out and tells the message's workflow.
func TestUnsubscribeLink(t *testing.T) {
	s := newStack(t, stackOptions{settings: map[string]any{"listen_after": "5s", "delivery_timeout": "1m"}})
	contact(s, "912", "+33612345678")
	id := send(t, s, "cb-unsub", 912, inputs("message", "Offers inside. Unsubscribe: {UNSUB_URL}", "wait_for", "delivery"))
	expectCompletion(t, s, "cb-unsub", outcome.SMSDelivered, "")
	m, err := s.db.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(s.apiURL) + `/u/[A-Za-z0-9_-]+`).FindString(m.Text)
	if link == "" {
		t.Fatalf("no unsubscribe link in %q", m.Text)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<form method=\"post\">") {
		t.Fatalf("GET %s = %d %s", link, resp.StatusCode, page)
	}
	if off, _, _ := s.db.Suppressed(context.Background(), portal, "sms", "+33612345678"); off {
		t.Fatal("a GET of the page opted the number out")
	}
	resp, err = http.Post(link, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if off, reason, _ := s.db.Suppressed(context.Background(), portal, "sms", "+33612345678"); resp.StatusCode != 200 || !off || reason != "unsubscribe_link" {
		t.Fatalf("after confirming: status %d, suppressed %v (%s)", resp.StatusCode, off, reason)
	}
	if res := s.result(id); res.Status != outcome.SMSUnsubscribed {
		t.Fatalf("workflow result = %+v, want SMS_UNSUBSCRIBED", res)
	}
	if got := s.timeline(); !slices.Equal(got, []string{"SENT", "DELIVERED", "UNSUBSCRIBED"}) {
		t.Fatalf("timeline = %v", got)
	}
	if s.record("contacts", "912")["smsflow_opted_out"] != "true" {
		t.Fatal("the contact is not marked opted out")
	}
	// An unknown code is a 404 page, not an error.
	if resp, err := http.Get(s.apiURL + "/l/nope"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown short link = %v %v", resp, err)
	}
}

// A deal whose contacts have no phone: the associated company's number is used.
func TestDealFallsBackToCompany(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.hubspot.SetObject(portal, "deals", "78", map[string]string{"dealname": "Fleet"})
	s.hubspot.SetObject(portal, "contacts", "913", map[string]string{"firstname": "Noone"})
	s.hubspot.SetObject(portal, "companies", "89", map[string]string{"phone": "+33699887766", "name": "Acme"})
	s.hubspot.Associate(portal, "deals", "78", "contacts", "913")
	s.hubspot.Associate(portal, "deals", "78", "companies", "89")
	if resp, err := s.Execute(context.Background(), "cb-deal-co", "DEAL", 78, inputs()); err != nil {
		t.Fatalf("%v %+v", err, resp)
	}
	expectCompletion(t, s, "cb-deal-co", outcome.SMSSent, "")
	id := workflows.MessageIDForCallback(portal, "cb-deal-co")
	if got := s.record("companies", "89")["smsflow_last_message_id"]; got != id {
		t.Fatalf("the company's last message id = %q, want %s", got, id)
	}

	// And with no phone anywhere: NOT_SENT with a reason the HubSpot user can read.
	s.hubspot.SetObject(portal, "deals", "79", map[string]string{"dealname": "Nobody"})
	if resp, err := s.Execute(context.Background(), "cb-deal-none", "DEAL", 79, inputs()); err != nil {
		t.Fatalf("%v %+v", err, resp)
	}
	out := expectCompletion(t, s, "cb-deal-none", outcome.SMSNotSent, "NO_PHONE")
	if !strings.Contains(out["error_message"], "associated contacts and companies") {
		t.Fatalf("error message %q does not say where it looked", out["error_message"])
	}
}

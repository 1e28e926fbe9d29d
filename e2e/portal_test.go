package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"smsflow/outcome"
	"smsflow/store"
)

// Ireland requires express consent for marketing: re-checked on the record right before dispatch.
func TestIrishMarketingNeedsConsent(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.hubspot.SetObject(portal, "contacts", "920", map[string]string{"mobilephone": "+353851234567", "firstname": "Aoife"})
	ie := func(kv ...string) map[string]string {
		in := inputs(append([]string{"country", "IE", "message_type", "marketing", "message", "Sale this week"}, kv...)...)
		return in
	}
	id := send(t, s, "cb-ie-no", 920, ie())
	out := expectCompletion(t, s, "cb-ie-no", outcome.SMSNotSent, outcome.ConsentMissing)
	if !strings.Contains(out["error_message"], "consent") || s.sim.Sends(id) != 0 {
		t.Fatalf("outputs %v, sends %d", out, s.sim.Sends(id))
	}
	s.hubspot.SetObject(portal, "contacts", "920", map[string]string{"mobilephone": "+353851234567", "firstname": "Aoife", "smsflow_sms_consent": "true"})
	id = send(t, s, "cb-ie-yes", 920, ie())
	expectCompletion(t, s, "cb-ie-yes", outcome.SMSSent, "")
	if s.sim.Sends(id) != 1 {
		t.Fatalf("consented message sent %d times", s.sim.Sends(id))
	}
}

// A portal that disconnected the app: its sends end NOT_SENT PORTAL_DISCONNECTED, nothing reaches the carrier.
func TestDisconnectedPortal(t *testing.T) {
	s := newStack(t, stackOptions{})
	if err := s.db.DisconnectPortal(context.Background(), portal); err != nil {
		t.Fatal(err)
	}
	contact(s, "921", "+33612340001")
	id := send(t, s, "cb-disc", 921, inputs())
	if res := s.result(id); res.Status != outcome.SMSNotSent || res.ErrorCode != outcome.PortalDisconnected {
		t.Fatalf("result = %+v", res)
	}
	if s.sim.Stats().SendRequests != 0 {
		t.Fatal("a disconnected portal's message reached the carrier")
	}
	m, err := s.db.GetMessage(context.Background(), id)
	if err != nil || m.Status != string(outcome.SMSNotSent) || m.ErrorCode != string(outcome.PortalDisconnected) {
		t.Fatalf("message log = %+v %v", m, err)
	}
}

// A portal that switched the delivered event off gets only the send event on the timeline (the
// send event is always written), while the properties still follow.
func TestDisabledEventKinds(t *testing.T) {
	s := newStack(t, stackOptions{})
	if err := s.db.SetDisabledEvents(context.Background(), portal, []string{"delivered"}); err != nil {
		t.Fatal(err)
	}
	contact(s, "922", "+33612340002")
	send(t, s, "cb-off", 922, inputs("wait_for", "delivery"))
	expectCompletion(t, s, "cb-off", outcome.SMSDelivered, "")
	if got := s.timeline(); !slices.Equal(got, []string{"SENT"}) {
		t.Fatalf("timeline = %v, want only SENT", got)
	}
	if got := s.record("contacts", "922")["smsflow_last_status"]; got != string(outcome.SMSDelivered) {
		t.Fatalf("last status property = %q", got)
	}
}

// A portal without timeline events (not a timeline partner) gets a note per status instead.
func TestFallbackNotes(t *testing.T) {
	s := newStack(t, stackOptions{})
	if err := s.db.SetPortalTimelineMode(context.Background(), portal, store.TimelineModeFallback); err != nil {
		t.Fatal(err)
	}
	contact(s, "923", "+33612340003")
	id := send(t, s, "cb-notes", 923, inputs("wait_for", "delivery"))
	expectCompletion(t, s, "cb-notes", outcome.SMSDelivered, "")
	if got := s.timeline(); len(got) != 0 {
		t.Fatalf("timeline events %v in fallback mode", got)
	}
	var bodies []string
	for _, n := range s.hubspot.Notes() {
		if strings.Contains(n.Properties["hs_note_body"], id) {
			bodies = append(bodies, n.Properties["hs_note_body"])
		}
	}
	if len(bodies) != 2 || !strings.Contains(bodies[0], "SMS SENT") || !strings.Contains(bodies[1], "SMS DELIVERED") {
		t.Fatalf("notes = %v, want a SENT then a DELIVERED note of the message", bodies)
	}
}

package e2e

import (
	"slices"
	"testing"

	"smsflow/outcome"
	"smsflow/workflows"
)

// HubSpot executes the action for a contact; the SMS reaches the carrier once, HubSpot gets the
// timeline events and properties in order, and the action completes with SMS_DELIVERED.
func TestDeliveredEndToEnd(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.hubspot.SetObject(portal, "contacts", "901", map[string]string{"mobilephone": "06 12 34 56 78", "firstname": "Ana"})

	resp := s.execute("cb-delivered", 901, map[string]string{"country": "FR", "sender": "ACME", "message_type": "transactional",
		"message": "Hello {{contact.firstname}}, your order shipped.", "wait_for": "delivery", "wait_hours": "1"})
	if resp.Status != 200 || resp.State != "BLOCK" {
		t.Fatalf("action answer = %+v, want 200 BLOCK", resp)
	}
	c := s.completion("cb-delivered")
	if c.Outputs["sms_status"] != string(outcome.SMSDelivered) || c.Outputs["segments"] != "1" || c.Outputs["encoding"] != "GSM7" || c.Outputs["error_code"] != "" {
		t.Fatalf("completed with %+v", c.Outputs)
	}
	id := c.Outputs["message_id"]
	if id != workflows.MessageIDForCallback(portal, "cb-delivered") {
		t.Fatalf("message_id %q is not the callback's", id)
	}
	res := s.result(id)
	if res.Status != outcome.SMSDelivered {
		t.Fatalf("workflow result = %+v", res)
	}
	if n := s.sim.Sends(id); n != 1 {
		t.Fatalf("the carrier received the message %d times, want once", n)
	}
	if got := s.timeline(); !slices.Equal(got, []string{"SENT", "DELIVERED"}) {
		t.Fatalf("timeline events = %v, want SENT then DELIVERED", got)
	}
	props := s.record("contacts", "901")
	if props["smsflow_last_status"] != string(outcome.SMSDelivered) || props["smsflow_last_message_id"] != id ||
		props["smsflow_last_destination"] != "+33612345678" || props["smsflow_last_content"] != "Hello Ana, your order shipped." {
		t.Fatalf("contact properties = %v", props)
	}
	// The phone and first name came with the action (objectRequestOptions): the contact was not read.
	if reads := s.hubspot.CallsTo("GET", "/crm/v3/objects/contacts/901"); len(reads) != 0 {
		t.Fatalf("the contact was read %d times although the action carried its properties", len(reads))
	}
	h := s.history(id, "delivered")
	t.Logf("history events for a delivered message: %d", len(h.Events))
	if len(h.Events) > 40 {
		t.Errorf("a delivered message took %d history events, want at most 40", len(h.Events))
	}

	// HubSpot retrying the same execution starts nothing new, also now that the run is closed:
	// it is answered with the outputs the action was completed with, not a BLOCK nothing completes.
	if again := s.executeAgain("cb-delivered", 901, map[string]string{"country": "FR", "sender": "ACME", "message_type": "transactional",
		"message": "Hello", "wait_for": "delivery"}); again.Status != 200 || again.State != "SUCCESS" ||
		again.Outputs["sms_status"] != string(outcome.SMSDelivered) || again.Outputs["message_id"] != id {
		t.Fatalf("retried delivery answered %+v", again)
	}
	if n := s.sim.Sends(id); n != 1 {
		t.Fatalf("after HubSpot's retry the carrier received the message %d times", n)
	}
}

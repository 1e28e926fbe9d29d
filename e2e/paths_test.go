package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"smsflow/carrier/sim"
	"smsflow/outcome"
	"smsflow/workflows"
)

var paris, _ = time.LoadLocation("Europe/Paris")

func contact(s *stack, id, phone string) {
	s.hubspot.SetObject(portal, "contacts", id, map[string]string{"mobilephone": phone, "firstname": "Ana", "lastname": "Silva"})
}

func inputs(kv ...string) map[string]string {
	m := map[string]string{"country": "FR", "sender": "ACME", "message_type": "transactional", "message": "Hello {{contact.firstname}}"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func send(t *testing.T, s *stack, callbackID string, contactID int64, in map[string]string) string {
	t.Helper()
	if resp := s.execute(callbackID, contactID, in); resp.Status != 200 || resp.State != "BLOCK" {
		t.Fatalf("action answer = %+v", resp)
	}
	return workflows.MessageIDForCallback(portal, callbackID)
}

func expectCompletion(t *testing.T, s *stack, callbackID string, status outcome.Status, code outcome.Code) map[string]string {
	t.Helper()
	c := s.completion(callbackID)
	if c.Outputs["sms_status"] != string(status) || c.Outputs["error_code"] != string(code) {
		t.Fatalf("completed with %v, want sms_status %s error_code %q", c.Outputs, status, code)
	}
	return c.Outputs
}

func TestNotDelivered(t *testing.T) {
	s := newStack(t, stackOptions{sim: sim.Options{Undelivered: 1}})
	contact(s, "902", "+33612345679")
	id := send(t, s, "cb-undelivered", 902, inputs("wait_for", "delivery"))
	expectCompletion(t, s, "cb-undelivered", outcome.SMSNotDelivered, "NOT_DELIVERED_TEMPORARY")
	if res := s.result(id); res.Status != outcome.SMSNotDelivered {
		t.Fatalf("result = %+v", res)
	}
	if got := s.timeline(); !slices.Equal(got, []string{"SENT", "NOT_DELIVERED"}) {
		t.Fatalf("timeline = %v", got)
	}
	s.history(id, "not_delivered")
}

// A French marketing SMS asked for on a Sunday afternoon sleeps on a durable timer until Monday
// 08:00 in Paris, visible in the query and the SmsWakeAt search attribute.
func TestFrenchMarketingOnSundayHeldToMonday(t *testing.T) {
	sunday := time.Date(2026, 11, 29, 14, 0, 0, 0, paris)
	s := newStack(t, stackOptions{parisNow: sunday})
	contact(s, "903", "+33612345670")
	id := send(t, s, "cb-sunday", 903, inputs("message_type", "marketing", "message", "Black Friday: -30% ce week-end"))
	var st workflows.MessageState
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && st.WakeAt == nil; time.Sleep(100 * time.Millisecond) {
		st = s.state(id)
	}
	if st.WakeAt == nil {
		t.Fatal("the message was never held")
	}
	// The wake-up is Monday 08:00 Paris on the shifted clock: 18 hours after "now".
	if held := st.WakeAt.Sub(time.Now()); held < 17*time.Hour+59*time.Minute || held > 18*time.Hour {
		t.Fatalf("held for %v, want until Monday 08:00 Paris (18 h)", held)
	}
	if st.Status != outcome.Pending || !strings.Contains(st.HeldReason, "08:00") {
		t.Fatalf("state = %+v", st)
	}
	desc, err := s.tc.DescribeWorkflowExecution(context.Background(), workflows.SMSWorkflowID(id), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["SmsWakeAt"]; !ok {
		t.Fatal("SmsWakeAt not set while held")
	}
	if s.sim.Stats().SendRequests != 0 || s.hubspot.Completed("cb-sunday") != nil {
		t.Fatal("a held message reached the carrier or completed the action")
	}
	_ = s.tc.TerminateWorkflow(context.Background(), workflows.SMSWorkflowID(id), "", "test over")
}

func TestHeldThenSent(t *testing.T) {
	s := newStack(t, stackOptions{parisNow: time.Date(2026, 11, 30, 7, 59, 57, 0, paris)})
	contact(s, "904", "+33612345671")
	id := send(t, s, "cb-held", 904, inputs("message_type", "marketing", "message", "Nouveautés en magasin", "wait_for", "delivery"))
	out := expectCompletion(t, s, "cb-held", outcome.SMSDelivered, "")
	if s.sim.Sends(id) != 1 {
		t.Fatalf("sends = %d", s.sim.Sends(id))
	}
	m, err := s.db.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(m.Text, "STOP au 36180") || m.SentAt == nil || m.SendAt == nil || m.SentAt.Before(*m.SendAt) {
		t.Fatalf("message log = %+v (outputs %v): want the STOP mention, sent at or after the window opened", m, out)
	}
	s.history(id, "held_then_sent")
}

// A STOP that arrives while a marketing message waits for its window cancels it.
func TestStopDuringHold(t *testing.T) {
	s := newStack(t, stackOptions{parisNow: time.Date(2026, 11, 30, 7, 59, 48, 0, paris)})
	contact(s, "905", "+33612345672")
	first := send(t, s, "cb-first", 905, inputs())
	expectCompletion(t, s, "cb-first", outcome.SMSSent, "")
	held := send(t, s, "cb-held-stop", 905, inputs("message_type", "marketing", "message", "Promo"))
	for deadline := time.Now().Add(20 * time.Second); s.state(held).WakeAt == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the marketing message was never held")
		}
	}
	if !s.sim.Reply(first, "Stop") {
		t.Fatal("simulator could not reply")
	}
	expectCompletion(t, s, "cb-held-stop", outcome.SMSNotSent, outcome.OptedOut)
	if n := s.sim.Sends(held); n != 0 {
		t.Fatalf("the cancelled message reached the carrier %d times", n)
	}
	s.history(held, "stop_during_hold")
}

func TestClicked(t *testing.T) {
	s := newStack(t, stackOptions{sim: sim.Options{Click: 1}})
	contact(s, "906", "+33612345673")
	id := send(t, s, "cb-click", 906, inputs("message", "Your order: https://shop.example.com/orders/42", "shorten_urls", "true",
		"utm_source", "sms", "wait_for", "click"))
	expectCompletion(t, s, "cb-click", outcome.SMSClicked, "")
	m, err := s.db.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, s.apiURL+"/l/") || strings.Contains(m.Text, "shop.example.com") {
		t.Fatalf("sent text %q does not carry our short link", m.Text)
	}
	if got := s.timeline(); !slices.Equal(got, []string{"SENT", "DELIVERED", "CLICKED"}) {
		t.Fatalf("timeline = %v", got)
	}
	s.history(id, "clicked")
}

func TestReply(t *testing.T) {
	s := newStack(t, stackOptions{sim: sim.Options{Reply: 1, ReplyText: "Yes please"}})
	contact(s, "907", "+33612345674")
	id := send(t, s, "cb-reply", 907, inputs("wait_for", "reply"))
	expectCompletion(t, s, "cb-reply", outcome.SMSResponse, "")
	if got := s.timeline(); !slices.Equal(got, []string{"SENT", "DELIVERED", "RESPONSE"}) {
		t.Fatalf("timeline = %v", got)
	}
	s.history(id, "reply")
}

func TestQuotaExceeded(t *testing.T) {
	s := newStack(t, stackOptions{})
	if err := s.db.SetQuota(context.Background(), portal, "sender", "*", 0, 0, "reject"); err != nil {
		t.Fatal(err)
	}
	contact(s, "908", "+33612345675")
	id := send(t, s, "cb-quota", 908, inputs())
	expectCompletion(t, s, "cb-quota", outcome.SMSNotSent, outcome.QuotaExceeded)
	if s.sim.Stats().SendRequests != 0 {
		t.Fatal("a message over quota reached the carrier")
	}
	s.history(id, "quota_exceeded")
}

func TestInvalidNumber(t *testing.T) {
	s := newStack(t, stackOptions{})
	contact(s, "909", "12")
	id := send(t, s, "cb-invalid", 909, inputs())
	out := expectCompletion(t, s, "cb-invalid", outcome.SMSNotSent, "INVALID_PHONE")
	if out["error_message"] == "" {
		t.Fatal("no readable error message")
	}
	if got := s.timeline(); !slices.Equal(got, []string{"NOT_SENT"}) {
		t.Fatalf("timeline = %v", got)
	}
	s.history(id, "invalid_number")
}

// The carrier fails every send: its breaker opens, the activity fails fast and Temporal retries;
// once the carrier is back the message goes, once.
func TestBreakerOpenThenRecovered(t *testing.T) {
	s := newStack(t, stackOptions{env: map[string]string{"CARRIER_BREAKER_FAILURES": "2", "CARRIER_BREAKER_OPEN": "1s"}})
	s.sim.SetFaults(1, 0, 0)
	contact(s, "910", "+33612345676")
	id := send(t, s, "cb-breaker", 910, inputs("wait_for", "delivery"))
	for deadline := time.Now().Add(30 * time.Second); s.sim.Stats().Injected5xx < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the carrier was never tried")
		}
	}
	time.Sleep(2 * time.Second) // retries meet the open breaker meanwhile
	s.sim.SetFaults(0, 0, 0)
	expectCompletion(t, s, "cb-breaker", outcome.SMSDelivered, "")
	if st := s.sim.Stats(); st.Accepted != 1 || st.Injected5xx < 2 {
		t.Fatalf("simulator stats = %+v: want two or more failures then one accepted message", st)
	}
	s.history(id, "breaker_recovered")
}

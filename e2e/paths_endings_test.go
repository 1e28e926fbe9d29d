package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"smsflow/carrier/sim"
	"smsflow/outcome"
	"smsflow/store"
	"smsflow/workflows"
)

// The endings of the lifecycle that the other path tests do not reach: waits that run out, an
// uncertain send, the unsubscribe link, STOP then START, a deferring quota and a disconnected
// portal. Each records its run for the replay test (workflows/replay_test.go).

// A message waiting for its delivery report completes the action with the status it reached when
// the wait runs out. wait_hours counts whole hours, so the run uses wait_hours 0, which falls back
// to the portal's default_wait, set to seconds here.
func TestWaitHoursExpiry(t *testing.T) {
	s := newStack(t, stackOptions{sim: sim.Options{Unreported: 1},
		settings: map[string]any{"default_wait": "3s", "delivery_timeout": "1m", "listen_after": "2s"}})
	contact(s, "930", "+33612345681")
	start := time.Now()
	id := send(t, s, "cb-wait-expiry", 930, inputs("wait_for", "delivery", "wait_hours", "0"))
	expectCompletion(t, s, "cb-wait-expiry", outcome.SMSSent, "")
	if waited := time.Since(start); waited < 3*time.Second {
		t.Fatalf("completed after %v, before the 3 s wait ran out", waited)
	}
	if res := s.result(id); res.Status != outcome.SMSSent || res.ErrorCode != "" {
		t.Fatalf("result = %+v, want SMS_SENT without an error code (the delivery timeout was not reached)", res)
	}
	if st := s.sim.Stats(); s.sim.Sends(id) != 1 || st.Outcomes["sent"] != 1 || st.Outcomes["delivered"] != 0 {
		t.Fatalf("simulator: %d sends, outcomes %v; want one message left at sent", s.sim.Sends(id), st.Outcomes)
	}
	if got := s.timeline(); !slices.Equal(got, []string{"SENT"}) {
		t.Fatalf("timeline = %v", got)
	}
	m := message(t, s, id)
	if m.Status != string(outcome.SMSSent) || m.SentAt == nil || m.DeliveredAt != nil {
		t.Fatalf("message log: status %s, sent at %v, delivered at %v", m.Status, m.SentAt, m.DeliveredAt)
	}
	s.history(id, "wait_hours_expiry")
}

// No delivery report ever comes: once the report's time to live (the portal's delivery_timeout)
// has passed the message ends NOT_DELIVERED with DELIVERY_EXPIRED, in the message log too, and the
// action waiting for the delivery completes with it.
func TestDeliveryTimeout(t *testing.T) {
	s := newStack(t, stackOptions{sim: sim.Options{Unreported: 1},
		settings: map[string]any{"delivery_timeout": "2s", "default_wait": "3s", "listen_after": "1s"}})
	contact(s, "931", "+33612345682")
	id := send(t, s, "cb-unconfirmed", 931, inputs("wait_for", "delivery", "wait_hours", "0"))
	out := expectCompletion(t, s, "cb-unconfirmed", outcome.SMSNotDelivered, outcome.DeliveryExpired)
	if !strings.Contains(out["error_message"], "no final delivery report") {
		t.Fatalf("error message %q does not say the report is missing", out["error_message"])
	}
	if res := s.result(id); res.Status != outcome.SMSNotDelivered || res.ErrorCode != outcome.DeliveryExpired {
		t.Fatalf("result = %+v", res)
	}
	if m, err := s.db.GetMessage(context.Background(), id); err != nil || m.Status != string(outcome.SMSNotDelivered) || m.ErrorCode != string(outcome.DeliveryExpired) {
		t.Fatalf("message log = %+v, %v; want NOT_DELIVERED DELIVERY_EXPIRED", m, err)
	}
	if n := s.sim.Sends(id); n != 1 {
		t.Fatalf("sent %d times", n)
	}
	if got := s.timeline(); !slices.Equal(got, []string{"SENT", "NOT_DELIVERED"}) {
		t.Fatalf("timeline = %v", got)
	}
	h := s.history(id, "delivery_timeout")
	fired := 0
	for _, ev := range h.Events {
		if ev.GetEventType() == enums.EVENT_TYPE_TIMER_FIRED {
			fired++
		}
	}
	if fired != 2 { // the report's time to live (before the wait's 3 s), then the listening period
		t.Fatalf("%d timers fired, want the report's time to live and the listening period", fired)
	}
}

// The carrier takes the message but its answer never arrives, and Twilio cannot be asked by our
// reference: the message counts as sent, flagged SEND_UNCERTAIN, and is not sent again.
func TestUncertainSend(t *testing.T) {
	s := newStack(t, stackOptions{simAsTwilio: true, sim: sim.Options{Timeout: 1, Hang: 10 * time.Second},
		env: map[string]string{"CARRIER_SEND_TIMEOUT": "1s"}})
	contact(s, "932", "+33612345683")
	id := send(t, s, "cb-uncertain", 932, inputs())
	out := expectCompletion(t, s, "cb-uncertain", outcome.SMSSent, outcome.SendUncertain)
	if !strings.Contains(out["error_message"], "not resent") {
		t.Fatalf("error message %q", out["error_message"])
	}
	if res := s.result(id); res.Status != outcome.SMSSent || res.ErrorCode != outcome.SendUncertain {
		t.Fatalf("result = %+v", res)
	}
	if st := s.sim.Stats(); st.SendRequests != 1 || st.Accepted != 1 || st.InjectedTimeouts != 1 || st.Lookups != 0 {
		t.Fatalf("simulator stats = %+v: want one send, taken, its answer lost, no lookup", st)
	}
	attempts, err := s.db.DispatchAttempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 1 || attempts[0].State != store.AttemptUncertain || attempts[0].Carrier != "twilio" {
		t.Fatalf("dispatch attempts = %+v, want one uncertain attempt at twilio", attempts)
	}
	if m := message(t, s, id); m.Status != string(outcome.SMSSent) || m.ErrorCode != string(outcome.SendUncertain) {
		t.Fatalf("message log: %s %s", m.Status, m.ErrorCode)
	}
	s.history(id, "uncertain_send")
}

// The recipient opens the unsubscribe link the carrier delivered: the page asks first, the
// confirmation suppresses the number and ends the message SMS_UNSUBSCRIBED (which meets a wait
// for a click), and the next message to the number is not sent.
func TestUnsubscribeLinkEndsMessage(t *testing.T) {
	s := newStack(t, stackOptions{})
	const phone = "+33612345684"
	contact(s, "933", phone)
	id := send(t, s, "cb-unsub-link", 933, inputs("message", "Offers inside. Unsubscribe: {UNSUB_URL}",
		"unsubscribe_url", "true", "wait_for", "click"))
	awaitStatus(t, s, id, outcome.SMSDelivered)
	link := regexp.MustCompile(regexp.QuoteMeta(s.apiURL) + `/u/[A-Za-z0-9_-]+`).FindString(carrierText(t, s, id))
	if link == "" {
		t.Fatal("the text the carrier received has no unsubscribe link")
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `<form method="post">`) {
		t.Fatalf("GET %s = %d", link, resp.StatusCode)
	}
	if off, _, _ := s.db.Suppressed(context.Background(), portal, "sms", phone); off {
		t.Fatal("opening the page opted the number out")
	}
	if resp, err = http.Post(link, "application/x-www-form-urlencoded", nil); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s = %d", link, resp.StatusCode)
	}
	expectCompletion(t, s, "cb-unsub-link", outcome.SMSUnsubscribed, "")
	if off, reason, _ := s.db.Suppressed(context.Background(), portal, "sms", phone); !off || reason != "unsubscribe_link" {
		t.Fatalf("suppressed %v (%s), want by the unsubscribe link", off, reason)
	}
	if res := s.result(id); res.Status != outcome.SMSUnsubscribed {
		t.Fatalf("result = %+v", res)
	}
	if got := s.timeline(); !slices.Equal(got, []string{"SENT", "DELIVERED", "UNSUBSCRIBED"}) {
		t.Fatalf("timeline = %v", got)
	}
	if s.hubspot.Object(portal, "contacts", "933")["smsflow_opted_out"] != "true" {
		t.Fatal("the contact is not marked opted out")
	}
	s.history(id, "unsubscribe_link")

	next := send(t, s, "cb-unsub-next", 933, inputs())
	expectCompletion(t, s, "cb-unsub-next", outcome.SMSNotSent, outcome.OptedOut)
	if n := s.sim.Sends(next); n != 0 {
		t.Fatalf("the message to an unsubscribed number reached the carrier %d times", n)
	}
}

// STOP suppresses the number and ends the message SMS_UNSUBSCRIBED; a START while the message
// still listens lifts the suppression (SMS_RESPONSE), and a later message is sent.
func TestStartReplyLiftsStop(t *testing.T) {
	s := newStack(t, stackOptions{settings: map[string]any{"listen_after": "3s", "delivery_timeout": "1m"}})
	const phone = "+33612345685"
	contact(s, "934", phone)
	id := send(t, s, "cb-stop-start", 934, inputs("wait_for", "reply"))
	awaitStatus(t, s, id, outcome.SMSDelivered)
	if !s.sim.Reply(id, "STOP") {
		t.Fatal("the STOP reply was refused")
	}
	expectCompletion(t, s, "cb-stop-start", outcome.SMSUnsubscribed, "")
	if off, reason, _ := s.db.Suppressed(context.Background(), portal, "sms", phone); !off || reason != "stop_reply" {
		t.Fatalf("after STOP: suppressed %v (%s)", off, reason)
	}
	if !s.sim.Reply(id, "START") {
		t.Fatal("the START reply was refused")
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if off, _, _ := s.db.Suppressed(context.Background(), portal, "sms", phone); !off {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("START never lifted the suppression")
		}
	}
	if res := s.result(id); res.Status != outcome.SMSResponse || res.ErrorCode != "" {
		t.Fatalf("result = %+v, want SMS_RESPONSE after the START", res)
	}
	if got := s.timeline(); !slices.Equal(got, []string{"SENT", "DELIVERED", "UNSUBSCRIBED", "RESPONSE"}) {
		t.Fatalf("timeline = %v", got)
	}
	s.history(id, "start_reply")

	next := send(t, s, "cb-after-start", 934, inputs())
	expectCompletion(t, s, "cb-after-start", outcome.SMSSent, "")
	if n := s.sim.Sends(next); n != 1 {
		t.Fatalf("the message after START reached the carrier %d times", n)
	}
}

// A sender's quota with the defer behaviour is reached: the message sleeps until the next quota
// day (00:00 UTC), visible in the state query and SmsWakeAt, without reaching the carrier or
// completing the action. That wake-up is hours away, so the recorded history is the open run's,
// up to the hold (the replayer replays an open run's events); the test then cancels the run,
// which ends the message NOT_SENT CANCELLED and completes the action.
func TestQuotaDefer(t *testing.T) {
	s := newStack(t, stackOptions{})
	if err := s.db.SetQuota(context.Background(), portal, "sender", "*", 0, 0, "defer"); err != nil {
		t.Fatal(err)
	}
	contact(s, "935", "+33612345686")
	id := send(t, s, "cb-quota-defer", 935, inputs())
	var st workflows.MessageState
	for deadline := time.Now().Add(30 * time.Second); st.WakeAt == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the message was never held")
		}
		st = s.state(id)
	}
	wake := st.WakeAt.UTC()
	if wake != wake.Truncate(24*time.Hour) || !wake.After(time.Now()) || wake.Sub(time.Now()) > 24*time.Hour {
		t.Fatalf("held until %v, want the next 00:00 UTC", wake)
	}
	if st.Status != outcome.Pending || !strings.Contains(st.HeldReason, "quota") || !strings.Contains(st.HeldReason, "deferred") {
		t.Fatalf("state = %+v", st)
	}
	desc, err := s.tc.DescribeWorkflowExecution(context.Background(), workflows.SMSWorkflowID(id), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["SmsWakeAt"]; !ok {
		t.Fatal("SmsWakeAt not set while deferred")
	}
	if s.sim.Stats().SendRequests != 0 || s.hubspot.Completed("cb-quota-defer") != nil {
		t.Fatal("a deferred message reached the carrier or completed the action")
	}
	h := s.historySoFar(id, "quota_defer")
	if last := h.Events[len(h.Events)-1].GetEventType(); last != enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED &&
		last != enums.EVENT_TYPE_TIMER_STARTED {
		t.Fatalf("the held run's history ends with %v, want the hold's timer started", last)
	}

	if err := s.tc.CancelWorkflow(context.Background(), workflows.SMSWorkflowID(id), ""); err != nil {
		t.Fatal(err)
	}
	expectCompletion(t, s, "cb-quota-defer", outcome.SMSNotSent, outcome.Cancelled)
	if n := s.sim.Sends(id); n != 0 {
		t.Fatalf("the cancelled message reached the carrier %d times", n)
	}
}

// The portal disconnected the app before the action ran: the message ends NOT_SENT
// PORTAL_DISCONNECTED, nothing reaches the carrier, and HubSpot hears nothing (the portal's
// token is no longer used; HubSpot expires the blocked action itself).
func TestDisconnectedPortalBeforeSend(t *testing.T) {
	s := newStack(t, stackOptions{})
	if err := s.db.DisconnectPortal(context.Background(), portal); err != nil {
		t.Fatal(err)
	}
	contact(s, "936", "+33612345687")
	id := send(t, s, "cb-disconnected", 936, inputs("wait_for", "delivery"))
	res := s.result(id)
	if res.Status != outcome.SMSNotSent || res.ErrorCode != outcome.PortalDisconnected || res.ErrorMessage == "" {
		t.Fatalf("result = %+v", res)
	}
	if s.sim.Stats().SendRequests != 0 {
		t.Fatal("a disconnected portal's message reached the carrier")
	}
	if m := message(t, s, id); m.Status != string(outcome.SMSNotSent) || m.ErrorCode != string(outcome.PortalDisconnected) {
		t.Fatalf("message log: %s %s", m.Status, m.ErrorCode)
	}
	if c := s.hubspot.Completed("cb-disconnected"); c != nil {
		t.Fatalf("the action of a disconnected portal was completed: %v", c.Outputs)
	}
	if calls := s.hubspot.CallsTo("POST", "/crm/v3/timeline/events"); len(calls) != 0 {
		t.Fatalf("%d timeline calls for a disconnected portal", len(calls))
	}
	s.history(id, "disconnected_portal")
}

// message reads the message log row.
func message(t *testing.T, s *stack, id string) store.Message {
	t.Helper()
	m, err := s.db.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// awaitStatus waits until the message's workflow reports the status.
func awaitStatus(t *testing.T, s *stack, id string, want outcome.Status) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if got := s.state(id).Status; got == want {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("status %s, never %s", got, want)
		}
	}
}

// carrierText is the text the carrier received for the message, read through the simulator's
// lookup by our reference.
func carrierText(t *testing.T, s *stack, id string) string {
	t.Helper()
	resp, err := http.Get(s.Config.Carrier.SimURL + "/sim/messages?ref=" + url.QueryEscape(id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Body string `json:"body"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("simulator lookup of %s: %d %v", id, resp.StatusCode, err)
	}
	return m.Body
}

package e2e

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"smsflow/carrier/sim"
	"smsflow/hubspot/hubspottest"
	"smsflow/outcome"
	"smsflow/workflows"
)

// Fault test: a STOP comes before the first message's delivery report (the carrier is slow to
// report). The opt-out is effective at once: a second message to the same number is NOT_SENT
// OPTED_OUT, and the first message's workflow shows UNSUBSCRIBED without waiting for the report.
func TestStopBeforeDeliveryReport(t *testing.T) {
	s := newStack(t, stackOptions{sim: sim.Options{Delay: 20 * time.Second}})
	contact(s, "921", "+33612345681")
	first := send(t, s, "cb-stop-first", 921, inputs("wait_for", "delivery"))
	for deadline := time.Now().Add(30 * time.Second); s.sim.Sends(first) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first message never reached the carrier")
		}
	}
	stopAt := time.Now()
	if !s.sim.Reply(first, "Stop") {
		t.Fatal("the simulator could not reply")
	}
	second := send(t, s, "cb-stop-second", 921, inputs())
	expectCompletion(t, s, "cb-stop-second", outcome.SMSNotSent, outcome.OptedOut)
	if n := s.sim.Sends(second); n != 0 {
		t.Fatalf("the second message reached the carrier %d times after the STOP", n)
	}
	var st workflows.MessageState
	for deadline := time.Now().Add(10 * time.Second); st.Status != outcome.SMSUnsubscribed && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		st = s.state(first)
	}
	if st.Status != outcome.SMSUnsubscribed {
		t.Fatalf("the first message's workflow is %s, want %s before any delivery report", st.Status, outcome.SMSUnsubscribed)
	}
	applied := time.Since(stopAt)
	expectCompletion(t, s, "cb-stop-first", outcome.SMSUnsubscribed, "")
	t.Logf("STOP before the delivery report: the second message was refused OPTED_OUT and the first was UNSUBSCRIBED %v after the STOP (report delay 20 s per status)", applied.Round(time.Millisecond))
	s.history(first, "stop_before_delivery")
}

// Fault test: HubSpot refuses every write with a permanent 4xx, and an operator cancels a held
// message. Neither stays PENDING or blocked: the first message runs to its end with HubSpot's
// refusals stored on it, the cancelled one ends NOT_SENT CANCELLED with its action completed.
func TestFailingHubSpotAndCancelledWorkflow(t *testing.T) {
	ctx := context.Background()
	// Sunday 23:00 in Paris: a marketing message is held until Monday 08:00.
	s := newStack(t, stackOptions{parisNow: time.Date(2026, 11, 29, 23, 0, 0, 0, paris)})
	contact(s, "922", "+33612345682")
	contact(s, "923", "+33612345683")

	held := send(t, s, "cb-cancel", 923, inputs("message_type", "marketing", "message", "Promo"))
	for deadline := time.Now().Add(20 * time.Second); s.state(held).WakeAt == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the marketing message was never held")
		}
	}
	if err := s.tc.CancelWorkflow(ctx, workflows.SMSWorkflowID(held), ""); err != nil {
		t.Fatal(err)
	}
	c := expectCompletion(t, s, "cb-cancel", outcome.SMSNotSent, outcome.Cancelled)
	if c["hs_execution_state"] != "FAIL_CONTINUE" {
		t.Fatalf("cancelled message completed %v, want FAIL_CONTINUE", c)
	}
	var res workflows.SMSResult
	if err := s.tc.GetWorkflow(ctx, workflows.SMSWorkflowID(held), "").Get(ctx, &res); !temporal.IsCanceledError(err) {
		t.Fatalf("cancelled workflow ended with %v, want cancelled", err)
	}

	for _, prefix := range []string{"/crm", "/engagements", "/automation", "/integrators"} {
		s.hubspot.Inject(hubspottest.Fault{PathPrefix: prefix, Status: 400, Times: 1000})
	}
	refused := send(t, s, "cb-hubspot-refuses", 922, inputs("wait_for", "delivery"))
	res = s.result(refused)
	if res.Status != outcome.SMSDelivered {
		t.Fatalf("the message with HubSpot refusing everything ended %+v, want delivered", res)
	}
	if c := s.hubspot.Completed("cb-hubspot-refuses"); c != nil {
		t.Fatalf("HubSpot refused every write yet shows a completion: %+v", c)
	}
	var refusals int
	for deadline := time.Now().Add(30 * time.Second); refusals == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		evs, err := s.db.Events(ctx, refused)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Kind == "hubspot_error" {
				refusals++
			}
		}
	}
	if refusals == 0 {
		t.Fatal("HubSpot's refusals were not stored on the message")
	}
	for _, id := range []string{held, refused} {
		m, err := s.db.GetMessage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == string(outcome.Pending) {
			t.Fatalf("message %s stayed PENDING", id)
		}
	}
	t.Logf("failing HubSpot: workflow closed %s with %d refusals stored; cancelled message: NOT_SENT CANCELLED, completed FAIL_CONTINUE", res.Status, refusals)
	s.history(held, "failure_cleanup")
}

// Fault test: a French marketing message whose carrier fails until the window closes at 22:00.
// The dispatch retries that run past 22:00 find the window closed at the carrier call and the
// message goes back to a durable hold: nothing reaches the carrier that night, and it leaves at
// 08:00. The country windows' clock runs 1,200 times faster than the real one (a night in 30 s);
// the workflow's timers and the activity retries run on the real clock.
func TestMarketingNotSentAfterTheWindowCloses(t *testing.T) {
	const speed = 1200
	s := newStack(t, stackOptions{parisNow: time.Date(2026, 11, 30, 21, 0, 0, 0, paris), clockSpeed: speed}) // a Monday
	contact(s, "924", "+33612345684")
	closes := time.Date(2026, 11, 30, 22, 0, 0, 0, paris)
	opens := time.Date(2026, 12, 1, 8, 0, 0, 0, paris)
	s.sim.SetFaults(1, 0, 0) // every send answered 503, nothing taken
	id := send(t, s, "cb-window-retries", 924, inputs("message_type", "marketing", "message", "Promo -20%"))

	var failedAttempts int
	for s.clock.At(time.Now()).Before(closes) {
		time.Sleep(20 * time.Millisecond)
	}
	failedAttempts = s.sim.Stats().Injected5xx
	s.sim.SetFaults(0, 0, 0) // the carrier is back at 22:00
	if failedAttempts == 0 {
		t.Fatal("the carrier was never tried before the window closed")
	}

	var st workflows.MessageState
	for deadline := time.Now().Add(30 * time.Second); st.WakeAt == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		st = s.state(id)
	}
	if st.WakeAt == nil {
		t.Fatal("the message never went back to the hold after the window closed")
	}
	if wake := s.clock.At(*st.WakeAt).In(paris); wake.Sub(opens).Abs() > time.Minute {
		t.Fatalf("held until %v on the windows' clock, want the opening %v", wake, opens)
	}
	var sentAt time.Time
	for deadline := time.Now().Add(90 * time.Second); s.sim.Stats().Accepted == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the message was never sent after the window opened")
		}
	}
	sentAt = s.clock.At(time.Now()).In(paris)
	if sentAt.Before(opens) || sentAt.After(opens.Add(30*time.Minute)) {
		t.Fatalf("the carrier took the message at %v, want at the 08:00 opening", sentAt)
	}
	expectCompletion(t, s, "cb-window-retries", outcome.SMSSent, "")
	if n := s.sim.Stats().Accepted; n != 1 {
		t.Fatalf("the carrier took %d messages, want 1", n)
	}
	t.Logf("window closed during retries: %d failed attempts before 22:00, none between 22:00 and 08:00, taken at %s Paris (clock ×%d)",
		failedAttempts, sentAt.Format("Mon 15:04:05"), speed)
	s.history(id, "window_closed_during_retries")
}

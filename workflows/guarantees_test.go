package workflows

import (
	"errors"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"smsflow/activities"
	"smsflow/outcome"
)

// A STOP that comes before the delivery report applies at once: the number is suppressed and
// the message is UNSUBSCRIBED without waiting; the report that follows does not move it back.
func TestStopBeforeDeliveryAppliesAtOnce(t *testing.T) {
	l := newLifecycle(t)
	var optedOutAt time.Duration
	start := l.env.Now()
	l.signal(time.Minute, SignalReply, Reply{EventID: "r1", Text: "STOP", IsStop: true})
	l.at(2*time.Minute, func() {
		if len(l.optOuts) == 1 {
			optedOutAt = l.env.Now().Sub(start)
		}
	})
	l.signal(time.Hour, SignalCarrierReport, CarrierReport{EventID: "e2", Status: outcome.ReportDelivered})
	res := l.run(request(WaitDelivery))
	if optedOutAt == 0 || optedOutAt > 2*time.Minute {
		t.Fatalf("the STOP was not applied before the delivery report (opt-outs %+v)", l.optOuts)
	}
	if want := []outcome.Status{outcome.SMSSent, outcome.SMSUnsubscribed}; !equal(l.statuses, want) {
		t.Fatalf("statuses = %v, want %v", l.statuses, want)
	}
	if res.Status != outcome.SMSUnsubscribed || len(l.completed) != 1 || l.completed[0].Outputs["sms_status"] != string(outcome.SMSUnsubscribed) {
		t.Fatalf("result %+v, completed %+v", res, l.completed)
	}
}

// The outbox delivers at least once: the same reply signalled twice is counted once.
func TestRedeliveredSignalsApplyOnce(t *testing.T) {
	l := newLifecycle(t)
	l.signal(time.Minute, SignalCarrierReport, CarrierReport{EventID: "e2", Status: outcome.ReportDelivered})
	l.signal(2*time.Minute, SignalReply, Reply{EventID: "r1", Text: "Thanks"})
	l.signal(3*time.Minute, SignalReply, Reply{EventID: "r1", Text: "Thanks"})
	l.signal(4*time.Minute, SignalClick, Click{EventID: "k1", URL: "https://shop.example.com"})
	l.signal(5*time.Minute, SignalClick, Click{EventID: "k1", URL: "https://shop.example.com"})
	var st MessageState
	l.at(6*time.Minute, func() {
		v, err := l.env.QueryWorkflow(QueryState)
		if err == nil {
			_ = v.Get(&st)
		}
	})
	l.run(request(WaitReply))
	if st.Replies != 1 || st.Clicks != 1 {
		t.Fatalf("replies %d, clicks %d: want each once", st.Replies, st.Clicks)
	}
	if want := []outcome.Status{outcome.SMSSent, outcome.SMSDelivered, outcome.SMSResponse, outcome.SMSClicked}; !equal(l.statuses, want) {
		t.Fatalf("statuses = %v, want %v", l.statuses, want)
	}
}

// Once unsubscribed, a click or a reply is counted but the message stays UNSUBSCRIBED; a START
// opts the number back in.
func TestUnsubscribedStaysUnlessStart(t *testing.T) {
	l := newLifecycle(t)
	l.signal(time.Minute, SignalCarrierReport, CarrierReport{EventID: "e2", Status: outcome.ReportDelivered})
	l.signal(2*time.Minute, SignalUnsubscribe, Unsubscribe{EventID: "u1"})
	l.signal(3*time.Minute, SignalClick, Click{EventID: "k1", URL: "https://shop.example.com"})
	l.signal(4*time.Minute, SignalReply, Reply{EventID: "r1", Text: "hello"})
	var between MessageState
	l.at(5*time.Minute, func() {
		v, err := l.env.QueryWorkflow(QueryState)
		if err == nil {
			_ = v.Get(&between)
		}
	})
	l.signal(6*time.Minute, SignalReply, Reply{EventID: "r2", Text: "START", IsStart: true})
	l.run(request(WaitNone))
	if between.Status != outcome.SMSUnsubscribed || between.Clicks != 1 || between.Replies != 1 {
		t.Fatalf("state after click and reply = %+v, want UNSUBSCRIBED with them counted", between)
	}
	if want := []outcome.Status{outcome.SMSSent, outcome.SMSDelivered, outcome.SMSUnsubscribed, outcome.SMSResponse}; !equal(l.statuses, want) {
		t.Fatalf("statuses = %v, want %v", l.statuses, want)
	}
	if len(l.optOuts) != 2 || l.optOuts[0].OptIn || !l.optOuts[1].OptIn {
		t.Fatalf("opt-outs = %+v, want out then back in", l.optOuts)
	}
}

// The window closes between the check and the carrier call (a carrier failing until 22:00): the
// dispatch activity refuses to send and the message goes back to the hold until the opening.
func TestWindowClosedAtDispatchHoldsAgain(t *testing.T) {
	l := newLifecycle(t)
	opening := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	var calls []time.Time
	l.send = func(in activities.DispatchInput) (activities.DispatchResult, error) {
		calls = append(calls, l.env.Now())
		if in.Country != "FR" || in.MessageType != "marketing" {
			t.Errorf("dispatch input without what the window check needs: %+v", in)
		}
		if len(calls) == 1 {
			return activities.DispatchResult{DeferUntil: &opening, DeferReason: "France: held until Thu 08:00"}, nil
		}
		return activities.DispatchResult{Carrier: "sim", CarrierMessageID: "SM1"}, nil
	}
	var checks []time.Time
	l.check = func(in activities.DispatchCheckInput) (activities.DispatchCheck, error) {
		checks = append(checks, in.Now)
		return activities.DispatchCheck{}, nil
	}
	res := l.run(request(WaitNone))
	if len(calls) != 2 || calls[1].Before(opening) {
		t.Fatalf("dispatch calls at %v, want the second at or after %v", calls, opening)
	}
	if len(checks) != 2 || !checks[1].Equal(opening) {
		t.Fatalf("checks at %v, want the last one at the opening", checks)
	}
	if !slices.Contains(l.statuses, outcome.SMSSent) || res.Status != outcome.SMSNotDelivered || res.ErrorCode != outcome.DeliveryExpired {
		t.Fatalf("statuses %v, result = %+v: want SENT, then no report within its time to live", l.statuses, res)
	}
}

// A step that fails for good ends the message NOT_SENT with a code and completes the action as
// failed; the workflow itself fails, for the operators.
func TestFailureEndsNotSentAndCompletes(t *testing.T) {
	l := newLifecycle(t)
	l.resolve = func(activities.RecipientInput) (activities.Recipient, error) {
		return activities.Recipient{}, temporal.NewNonRetryableApplicationError("the store refuses", "BROKEN", nil)
	}
	l.env.ExecuteWorkflow(SendSMSName, request(WaitNone))
	if err := l.env.GetWorkflowError(); err == nil {
		t.Fatal("the workflow did not fail")
	}
	if want := []outcome.Status{outcome.SMSNotSent}; !equal(l.statuses, want) {
		t.Fatalf("statuses = %v, want %v", l.statuses, want)
	}
	if len(l.completed) != 1 || l.completed[0].Outputs["error_code"] != string(outcome.LifecycleFailed) || !l.completed[0].FailContinue {
		t.Fatalf("completed = %+v", l.completed)
	}
}

// An operator cancels a held message: it ends NOT_SENT CANCELLED, the action completed.
func TestCancelWhileHeldEndsCleanly(t *testing.T) {
	l := newLifecycle(t)
	l.render = func(activities.RenderInput) (activities.Rendered, error) {
		return activities.Rendered{Text: "Hi", Encoding: "GSM7", Segments: 1, SendAt: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC), Held: true}, nil
	}
	l.at(time.Hour, func() { l.env.CancelWorkflow() })
	l.env.ExecuteWorkflow(SendSMSName, request(WaitNone))
	if err := l.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("workflow error = %v, want cancelled", err)
	}
	if want := []outcome.Status{outcome.SMSNotSent}; !equal(l.statuses, want) || l.dispatch != 0 {
		t.Fatalf("statuses = %v after %d dispatches", l.statuses, l.dispatch)
	}
	if len(l.completed) != 1 || l.completed[0].Outputs["error_code"] != string(outcome.Cancelled) {
		t.Fatalf("completed = %+v", l.completed)
	}
}

// A completion HubSpot keeps refusing does not leave the action marked done: the failure's
// cleanup tries it again.
func TestCompletionFailureIsRetriedByTheCleanup(t *testing.T) {
	l := newLifecycle(t)
	fails := 1
	l.complete = func(activities.CompleteInput) error {
		if fails > 0 {
			fails--
			return temporal.NewNonRetryableApplicationError("hubspot down", "TEMPORARY", errors.New("503"))
		}
		return nil
	}
	l.env.ExecuteWorkflow(SendSMSName, request(WaitNone))
	if err := l.env.GetWorkflowError(); err == nil {
		t.Fatal("the workflow did not fail")
	}
	if len(l.completed) != 1 || l.completed[0].Outputs["sms_status"] != string(outcome.SMSSent) {
		t.Fatalf("completed = %+v, want the SENT outcome once, by the cleanup", l.completed)
	}
}

// The app uninstalled while a message was held: its cancelled run says PORTAL_DISCONNECTED.
func TestCancelledByUninstallSaysPortalDisconnected(t *testing.T) {
	l := newLifecycle(t)
	l.render = func(activities.RenderInput) (activities.Rendered, error) {
		return activities.Rendered{Text: "Hi", Encoding: "GSM7", Segments: 1, SendAt: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC), Held: true}, nil
	}
	l.cancelled = activities.CancellationReason{Code: outcome.PortalDisconnected, Message: "the HubSpot account disconnected the app"}
	l.at(time.Hour, func() { l.env.CancelWorkflow() })
	l.env.ExecuteWorkflow(SendSMSName, request(WaitNone))
	if err := l.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("workflow error = %v, want cancelled", err)
	}
	if len(l.synced) != 1 || l.synced[0].Status != outcome.SMSNotSent || l.synced[0].ErrorCode != outcome.PortalDisconnected {
		t.Fatalf("published %+v, want NOT_SENT PORTAL_DISCONNECTED", l.synced)
	}
}

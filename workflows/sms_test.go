package workflows

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"smsflow/activities"
	"smsflow/outcome"
)

var act *activities.Activities

// lifecycle is a test environment with every activity answered as a healthy run would answer it;
// tests replace the answers their path needs (the fields) and read what the activities saw.
type lifecycle struct {
	t         *testing.T
	env       *testsuite.TestWorkflowEnvironment
	statuses  []outcome.Status // as recorded in the message log, in order
	synced    []activities.StatusEvent
	completed []activities.CompleteInput
	optOuts   []activities.OptOutInput
	dispatch  int

	resolve func(activities.RecipientInput) (activities.Recipient, error)
	render  func(activities.RenderInput) (activities.Rendered, error)
	check   func(activities.DispatchCheckInput) (activities.DispatchCheck, error)
	send    func(activities.DispatchInput) (activities.DispatchResult, error)
	// complete answers CompleteAction; completed lists those it took.
	complete func(activities.CompleteInput) error
	// cancelled is what CancellationReason answers.
	cancelled activities.CancellationReason
}

func newLifecycle(t *testing.T) *lifecycle {
	var suite testsuite.WorkflowTestSuite
	l := &lifecycle{t: t, env: suite.NewTestWorkflowEnvironment()}
	l.env.SetStartTime(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) // a Wednesday, 11:00 in Paris
	l.env.RegisterWorkflowWithOptions(SendSMS, workflowOptions())
	l.env.RegisterActivity(act)
	l.resolve = func(activities.RecipientInput) (activities.Recipient, error) {
		return activities.Recipient{Phone: "+33612345678", PhoneHash: "abc", Region: "FR", Timezones: []string{"Europe/Paris"},
			ObjectType: "contact", ObjectID: "901", Tokens: map[string]string{"firstname": "Ana"}}, nil
	}
	l.render = func(in activities.RenderInput) (activities.Rendered, error) {
		return activities.Rendered{Text: in.Text + "\nSTOP au 36180", Encoding: "GSM7", Segments: 1, Characters: 30, SendAt: in.Now}, nil
	}
	l.check = func(activities.DispatchCheckInput) (activities.DispatchCheck, error) {
		return activities.DispatchCheck{}, nil
	}
	l.send = func(activities.DispatchInput) (activities.DispatchResult, error) {
		return activities.DispatchResult{Carrier: "sim", CarrierMessageID: "SM1"}, nil
	}
	l.env.OnActivity(act.Prepare, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PrepareInput) (activities.Prepared, error) {
			p := activities.Prepared{Settings: activities.Settings{DeliveryTimeout: 2 * time.Hour, ListenAfter: 24 * time.Hour,
				DefaultWait: 12 * time.Hour, MaxSegments: 5}}
			var err error
			if p.Recipient, err = l.resolve(in.Recipient); err != nil || p.Recipient.ErrorCode != "" {
				return p, err
			}
			p.Rendered, err = l.render(in.Render)
			return p, err
		}).Maybe()
	l.env.OnActivity(act.CheckBeforeDispatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DispatchCheckInput) (activities.DispatchCheck, error) {
			return l.check(in)
		}).Maybe()
	l.env.OnActivity(act.Dispatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DispatchInput) (activities.DispatchResult, error) {
			// As the activity does: the pre-dispatch check first, the carrier, then SENT published.
			if in.Check != nil {
				c := *in.Check
				c.Now = l.env.Now()
				res, err := l.check(c)
				if err != nil {
					return activities.DispatchResult{}, err
				}
				if res.ErrorCode != "" {
					return activities.DispatchResult{ErrorCode: res.ErrorCode, ErrorMessage: res.ErrorMessage, Refused: true}, nil
				}
				if res.DeferUntil != nil {
					return activities.DispatchResult{DeferUntil: res.DeferUntil, DeferReason: res.DeferReason}, nil
				}
			}
			l.dispatch++
			res, err := l.send(in)
			if err == nil && in.Sent != nil && res.DeferUntil == nil && (res.ErrorCode == "" || res.Uncertain) {
				ev := *in.Sent
				ev.Carrier, ev.CarrierMessageID = res.Carrier, res.CarrierMessageID
				if res.Uncertain {
					ev.ErrorCode, ev.ErrorMessage = res.ErrorCode, res.ErrorMessage
				}
				l.statuses = append(l.statuses, ev.Status)
				l.synced = append(l.synced, ev)
				res.Published = true
			}
			return res, err
		}).Maybe()
	l.env.OnActivity(act.Publish, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PublishInput) error {
			if in.Event != nil {
				l.statuses = append(l.statuses, in.Event.Status)
				l.synced = append(l.synced, *in.Event)
			}
			if in.OptOut != nil {
				l.optOuts = append(l.optOuts, *in.OptOut)
			}
			if in.Complete != nil {
				l.completed = append(l.completed, *in.Complete)
			}
			return nil
		}).Maybe()
	l.cancelled = activities.CancellationReason{Code: outcome.Cancelled, Message: activities.CancelledMessage}
	l.env.OnActivity(act.CancellationReason, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.CancellationInput) (activities.CancellationReason, error) {
			return l.cancelled, nil
		}).Maybe()
	l.env.OnActivity(act.CompleteAction, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CompleteInput) error {
			if l.complete != nil {
				if err := l.complete(in); err != nil {
					return err
				}
			}
			l.completed = append(l.completed, in)
			return nil
		}).Maybe()
	return l
}

func request(waitFor string) SMSRequest {
	return SMSRequest{MessageID: "m-1", CallbackID: "cb-1", PortalID: 62515, ObjectType: "contact", ObjectID: "901",
		Inputs: SMSInputs{Country: "FR", Sender: "ACME", MessageType: "marketing", Message: "Hi {{contact.firstname}}",
			CampaignName: "welcome", WaitFor: waitFor}}
}

func (l *lifecycle) at(d time.Duration, f func()) { l.env.RegisterDelayedCallback(f, d) }

func (l *lifecycle) signal(d time.Duration, name string, v any) {
	l.at(d, func() { l.env.SignalWorkflow(name, v) })
}

func (l *lifecycle) run(req SMSRequest) SMSResult {
	l.t.Helper()
	l.env.ExecuteWorkflow(SendSMSName, req)
	if !l.env.IsWorkflowCompleted() {
		l.t.Fatal("workflow did not complete")
	}
	if err := l.env.GetWorkflowError(); err != nil {
		l.t.Fatalf("workflow error: %v", err)
	}
	var res SMSResult
	if err := l.env.GetWorkflowResult(&res); err != nil {
		l.t.Fatal(err)
	}
	return res
}

func equal(a, b []outcome.Status) bool { return slices.Equal(a, b) }

func TestDeliveredWaitForDelivery(t *testing.T) {
	l := newLifecycle(t)
	l.signal(time.Minute, SignalCarrierReport, CarrierReport{EventID: "e1", Status: outcome.ReportSent})
	l.signal(2*time.Minute, SignalCarrierReport, CarrierReport{EventID: "e2", Status: outcome.ReportDelivered})
	res := l.run(request(WaitDelivery))
	if res.Status != outcome.SMSDelivered || res.Segments != 1 || res.Encoding != "GSM7" || res.ErrorCode != "" {
		t.Fatalf("result = %+v", res)
	}
	if want := []outcome.Status{outcome.SMSSent, outcome.SMSDelivered}; !equal(l.statuses, want) {
		t.Fatalf("statuses = %v, want %v", l.statuses, want)
	}
	if len(l.completed) != 1 || l.completed[0].Outputs["sms_status"] != string(outcome.SMSDelivered) || l.completed[0].Outputs["segments"] != "1" {
		t.Fatalf("completed = %+v, want once with SMS_DELIVERED", l.completed)
	}
	if l.dispatch != 1 {
		t.Fatalf("dispatched %d times", l.dispatch)
	}
}

// A delivery report that arrives before the dispatch is acknowledged waits in the channel and is
// applied after SENT; a duplicate and a late "sent" change nothing.
func TestReportsOutOfOrderAndDuplicated(t *testing.T) {
	l := newLifecycle(t)
	l.send = func(activities.DispatchInput) (activities.DispatchResult, error) {
		l.env.SignalWorkflow(SignalCarrierReport, CarrierReport{EventID: "e2", Status: outcome.ReportDelivered}) // before the ack
		return activities.DispatchResult{Carrier: "sim", CarrierMessageID: "SM1"}, nil
	}
	l.signal(time.Minute, SignalCarrierReport, CarrierReport{EventID: "e2", Status: outcome.ReportDelivered})
	l.signal(2*time.Minute, SignalCarrierReport, CarrierReport{EventID: "e1", Status: outcome.ReportSent})
	l.signal(3*time.Minute, SignalCarrierReport, CarrierReport{EventID: "e3", Status: outcome.ReportUndelivered})
	res := l.run(request(WaitNone))
	if want := []outcome.Status{outcome.SMSSent, outcome.SMSDelivered}; !equal(l.statuses, want) {
		t.Fatalf("statuses = %v, want %v", l.statuses, want)
	}
	if res.Status != outcome.SMSDelivered {
		t.Fatalf("result = %+v", res)
	}
	// wait_for none: completed right after dispatch, with SENT.
	if len(l.completed) != 1 || l.completed[0].Outputs["sms_status"] != string(outcome.SMSSent) {
		t.Fatalf("completed = %+v", l.completed)
	}
}

// A click before the delivery report is held and applied after DELIVERED.
func TestClickBeforeDeliveryIsHeld(t *testing.T) {
	l := newLifecycle(t)
	l.signal(time.Minute, SignalClick, Click{EventID: "k1", URL: "https://shop.example.com"})
	l.signal(5*time.Minute, SignalCarrierReport, CarrierReport{EventID: "e2", Status: outcome.ReportDelivered})
	res := l.run(request(WaitClick))
	if want := []outcome.Status{outcome.SMSSent, outcome.SMSDelivered, outcome.SMSClicked}; !equal(l.statuses, want) {
		t.Fatalf("statuses = %v, want %v", l.statuses, want)
	}
	if res.Status != outcome.SMSClicked || len(l.completed) != 1 || l.completed[0].Outputs["sms_status"] != string(outcome.SMSClicked) {
		t.Fatalf("result %+v, completed %+v", res, l.completed)
	}
}

func TestStopReplyUnsubscribes(t *testing.T) {
	l := newLifecycle(t)
	l.signal(time.Minute, SignalCarrierReport, CarrierReport{EventID: "e2", Status: outcome.ReportDelivered})
	l.signal(time.Hour, SignalReply, Reply{EventID: "r1", Text: "STOP", IsStop: true})
	res := l.run(request(WaitReply))
	if res.Status != outcome.SMSUnsubscribed {
		t.Fatalf("result = %+v", res)
	}
	if len(l.optOuts) != 1 || l.optOuts[0].OptIn || l.optOuts[0].Phone != "+33612345678" || l.optOuts[0].Reason != "stop_reply" {
		t.Fatalf("opt-outs = %+v", l.optOuts)
	}
	last := l.synced[len(l.synced)-1]
	if last.Status != outcome.SMSUnsubscribed || !last.OptedOut {
		t.Fatalf("HubSpot not told of the opt-out: %+v", last)
	}
}

// Outside the French window the message sleeps on a timer until it opens, visible in the query.
func TestHeldUntilWindowThenStopCancels(t *testing.T) {
	l := newLifecycle(t)
	wake := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	l.render = func(activities.RenderInput) (activities.Rendered, error) {
		return activities.Rendered{Text: "Hi", Encoding: "GSM7", Segments: 1, SendAt: wake, Held: true, HeldReason: "France: held until Thu 08:00"}, nil
	}
	// A STOP arrived (for another message) while this one waited: the re-check finds it.
	l.check = func(in activities.DispatchCheckInput) (activities.DispatchCheck, error) {
		if !in.Now.Equal(wake) {
			t.Errorf("checked at %v, want at the wake-up time %v", in.Now, wake)
		}
		return activities.DispatchCheck{ErrorCode: outcome.OptedOut, ErrorMessage: "the recipient opted out (stop_reply)"}, nil
	}
	var during MessageState
	l.at(time.Hour, func() {
		v, err := l.env.QueryWorkflow(QueryState)
		if err != nil {
			t.Error(err)
			return
		}
		_ = v.Get(&during)
	})
	res := l.run(request(WaitNone))
	if during.WakeAt == nil || !during.WakeAt.Equal(wake) || during.HeldReason == "" || during.Status != outcome.Pending {
		t.Fatalf("state while held = %+v", during)
	}
	if res.Status != outcome.SMSNotSent || res.ErrorCode != outcome.OptedOut || l.dispatch != 0 {
		t.Fatalf("result = %+v, dispatched %d", res, l.dispatch)
	}
	if len(l.completed) != 1 || l.completed[0].Outputs["error_code"] != string(outcome.OptedOut) {
		t.Fatalf("completed = %+v", l.completed)
	}
}

func TestNotSentBeforeAnythingIsSent(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(l *lifecycle)
		code outcome.Code
	}{
		{"invalid phone", func(l *lifecycle) {
			l.resolve = func(activities.RecipientInput) (activities.Recipient, error) {
				return activities.Recipient{ErrorCode: "INVALID_PHONE", ErrorMessage: "not a valid phone number"}, nil
			}
		}, "INVALID_PHONE"},
		{"too long", func(l *lifecycle) {
			l.render = func(activities.RenderInput) (activities.Rendered, error) {
				return activities.Rendered{ErrorCode: "MESSAGE_TOO_LONG", ErrorMessage: "6 parts"}, nil
			}
		}, "MESSAGE_TOO_LONG"},
		{"quota", func(l *lifecycle) {
			l.check = func(activities.DispatchCheckInput) (activities.DispatchCheck, error) {
				return activities.DispatchCheck{ErrorCode: outcome.QuotaExceeded}, nil
			}
		}, outcome.QuotaExceeded},
		{"carrier refuses the number", func(l *lifecycle) {
			l.send = func(activities.DispatchInput) (activities.DispatchResult, error) {
				return activities.DispatchResult{Carrier: "sim", ErrorCode: "NUMBER_NOT_ASSIGNED", NumberInvalid: true}, nil
			}
		}, "NUMBER_NOT_ASSIGNED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLifecycle(t)
			tc.set(l)
			res := l.run(request(WaitDelivery))
			if res.Status != outcome.SMSNotSent || res.ErrorCode != tc.code {
				t.Fatalf("result = %+v", res)
			}
			if len(l.completed) != 1 || l.completed[0].Outputs["sms_status"] != string(outcome.SMSNotSent) ||
				l.completed[0].Outputs["error_code"] != string(tc.code) || !l.completed[0].FailContinue {
				t.Fatalf("completed = %+v", l.completed)
			}
			if l.statuses[len(l.statuses)-1] != outcome.SMSNotSent {
				t.Fatalf("statuses = %v", l.statuses)
			}
		})
	}
}

// No delivery report at all: the action completes when wait_hours run out, with what is known.
func TestNoReportCompletesAtWaitHours(t *testing.T) {
	l := newLifecycle(t)
	req := request(WaitDelivery)
	req.Inputs.WaitHours = 1
	var before, after int
	l.at(59*time.Minute, func() { before = len(l.completed) })
	l.at(61*time.Minute, func() { after = len(l.completed) })
	res := l.run(req)
	if before != 0 || after != 1 || len(l.completed) != 1 || l.completed[0].Outputs["sms_status"] != string(outcome.SMSSent) {
		t.Fatalf("completions before/after wait_hours: %d/%d, completed = %+v", before, after, l.completed)
	}
	if res.Status != outcome.SMSNotDelivered || res.ErrorCode != outcome.DeliveryExpired {
		t.Fatalf("result = %+v, want NOT_DELIVERED with DELIVERY_EXPIRED after the report's time to live", res)
	}
	if want := []outcome.Status{outcome.SMSSent, outcome.SMSNotDelivered}; !slices.Equal(l.statuses, want) {
		t.Fatalf("statuses = %v, want %v", l.statuses, want)
	}
}

// A report that comes after the report's time to live still tells the truth: DELIVERED.
func TestReportAfterItsTimeToLive(t *testing.T) {
	l := newLifecycle(t)
	l.signal(3*time.Hour, SignalCarrierReport, CarrierReport{EventID: "late", Status: outcome.ReportDelivered, CarrierMessageID: "SM1"})
	res := l.run(request(WaitNone))
	if want := []outcome.Status{outcome.SMSSent, outcome.SMSNotDelivered, outcome.SMSDelivered}; !slices.Equal(l.statuses, want) {
		t.Fatalf("statuses = %v, want %v", l.statuses, want)
	}
	if res.Status != outcome.SMSDelivered || res.ErrorCode != "" {
		t.Fatalf("result = %+v, want DELIVERED without a code", res)
	}
}

func TestDispatchFailsForGood(t *testing.T) {
	l := newLifecycle(t)
	l.send = func(activities.DispatchInput) (activities.DispatchResult, error) {
		return activities.DispatchResult{}, errors.New("breaker open")
	}
	res := l.run(request(WaitNone))
	if res.Status != outcome.SMSNotSent || res.ErrorCode != outcome.CarrierUnavailable {
		t.Fatalf("result = %+v", res)
	}
}

// A quota reached with "defer" holds the message until the next day, then checks again.
func TestQuotaDeferredToNextDay(t *testing.T) {
	l := newLifecycle(t)
	next := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var checks []time.Time
	l.check = func(in activities.DispatchCheckInput) (activities.DispatchCheck, error) {
		checks = append(checks, in.Now)
		if len(checks) == 1 {
			return activities.DispatchCheck{DeferUntil: &next, DeferReason: "quota reached; deferred"}, nil
		}
		return activities.DispatchCheck{}, nil
	}
	res := l.run(request(WaitNone))
	if len(checks) != 2 || !checks[1].Equal(next) {
		t.Fatalf("checks at %v, want a second one at %v", checks, next)
	}
	if !slices.Contains(l.statuses, outcome.SMSSent) || l.dispatch != 1 {
		t.Fatalf("statuses %v, result %+v after %d dispatches", l.statuses, res, l.dispatch)
	}
}

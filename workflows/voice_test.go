package workflows

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/outcome"
	"smsflow/voice"
)

// callTest is a test environment for the call lifecycle with every activity answered as a
// healthy call would be; tests replace the answers their path needs and read what was done.
type callTest struct {
	t         *testing.T
	env       *testsuite.TestWorkflowEnvironment
	statuses  []outcome.Status
	events    []activities.StatusEvent
	completed []activities.CompleteInput
	optOuts   []activities.OptOutInput
	placed    []activities.PlaceCallInput
	placedAt  []time.Time
	children  []SMSRequest
	prepared  int

	prepare func(activities.PrepareCallInput) activities.PreparedCall
	place   func(activities.PlaceCallInput) activities.PlaceCallResult
	smsNow  outcome.Status // what the message log says of a key's SMS
}

func newCallTest(t *testing.T) *callTest {
	var suite testsuite.WorkflowTestSuite
	c := &callTest{t: t, env: suite.NewTestWorkflowEnvironment(), smsNow: outcome.SMSSent}
	c.env.SetStartTime(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) // a Wednesday, 11:00 in Paris
	c.env.RegisterWorkflowWithOptions(SendVoice, voiceWorkflowOptions())
	c.env.RegisterWorkflowWithOptions(SendSMS, workflowOptions())
	c.env.RegisterActivity(act)
	c.prepare = func(in activities.PrepareCallInput) activities.PreparedCall {
		return activities.PreparedCall{
			Settings: activities.Settings{DeliveryTimeout: 2 * time.Hour, ListenAfter: 24 * time.Hour, DefaultWait: 12 * time.Hour},
			Recipient: activities.Recipient{Phone: "+33612345601", PhoneHash: "abc", Region: "FR", Timezones: []string{"Europe/Paris"},
				ObjectType: "contact", ObjectID: "901"},
			Caller: "+33900000001", Script: in.Script, CallAt: in.Now,
		}
	}
	c.place = func(activities.PlaceCallInput) activities.PlaceCallResult {
		return activities.PlaceCallResult{Carrier: "sim", CarrierCallID: "CA1"}
	}
	c.env.OnActivity(act.PrepareCall, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PrepareCallInput) (activities.PreparedCall, error) {
			c.prepared++
			return c.prepare(in), nil
		}).Maybe()
	c.env.OnActivity(act.PlaceCall, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PlaceCallInput) (activities.PlaceCallResult, error) {
			c.placed = append(c.placed, in)
			c.placedAt = append(c.placedAt, c.env.Now())
			return c.place(in), nil
		}).Maybe()
	c.env.OnActivity(act.Publish, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PublishInput) error {
			if in.Event != nil {
				c.statuses = append(c.statuses, in.Event.Status)
				c.events = append(c.events, *in.Event)
			}
			if in.OptOut != nil {
				c.optOuts = append(c.optOuts, *in.OptOut)
			}
			return nil
		}).Maybe()
	c.env.OnActivity(act.CompleteAction, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CompleteInput) error {
			c.completed = append(c.completed, in)
			return nil
		}).Maybe()
	c.env.OnActivity(act.MessageStatuses, mock.Anything, mock.Anything).Return(
		func(_ context.Context, ids []string) (map[string]activities.MessageStatus, error) {
			out := map[string]activities.MessageStatus{}
			for _, id := range ids {
				out[id] = activities.MessageStatus{Status: c.smsNow}
			}
			return out, nil
		}).Maybe()
	c.env.OnActivity(act.CancellationReason, mock.Anything, mock.Anything).Return(
		activities.CancellationReason{Code: outcome.Cancelled, Message: activities.CancelledMessage}, nil).Maybe()
	c.env.OnWorkflow(SendSMSName, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, req SMSRequest) (SMSResult, error) {
			c.children = append(c.children, req)
			return SMSResult{Status: outcome.SMSDelivered, MessageID: req.MessageID}, nil
		}).Maybe()
	return c
}

// event signals a call event after d.
func (c *callTest) event(d time.Duration, e voice.CallEvent) {
	c.env.RegisterDelayedCallback(func() { c.env.SignalWorkflow(voice.SignalCallEvent, e) }, d)
}

func (c *callTest) run(req VoiceRequest) VoiceResult {
	c.t.Helper()
	c.env.ExecuteWorkflow(SendVoiceName, req)
	if !c.env.IsWorkflowCompleted() {
		c.t.Fatal("workflow did not complete")
	}
	if err := c.env.GetWorkflowError(); err != nil {
		c.t.Fatalf("workflow error: %v", err)
	}
	var res VoiceResult
	if err := c.env.GetWorkflowResult(&res); err != nil {
		c.t.Fatal(err)
	}
	return res
}

// only is the single completion, or a failure.
func (c *callTest) only() activities.CompleteInput {
	c.t.Helper()
	if len(c.completed) != 1 {
		c.t.Fatalf("completed %d times: %+v", len(c.completed), c.completed)
	}
	return c.completed[0]
}

func voiceRequest() VoiceRequest {
	return VoiceRequest{MessageID: "c-1", CallbackID: "cb-1", PortalID: 62515, ObjectType: "contact", ObjectID: "901",
		Channel: outcome.Voice, Inputs: VoiceInputs{Country: "FR", MessageType: "marketing", CampaignName: "calls",
			Speech: voice.Speech{Text: "Hello {{contact.firstname}}", Language: "fr-FR"}, WaitFor: WaitDelivery}}
}

func ivrRequest() VoiceRequest {
	r := voiceRequest()
	r.Channel = outcome.IVR
	r.Inputs.Repeats = 1
	r.Inputs.WrongKey = voice.Speech{Text: "Wrong key"}
	r.Inputs.Keys = []KeyInput{
		{Action: voice.KeyAction{Key: "1", Action: voice.ActionTransfer, TransferTo: "+33900000002"}},
		{Action: voice.KeyAction{Key: "2", Action: voice.ActionSMS, Speech: voice.Speech{Text: "We send you an SMS"}},
			SMS: &SMSInputs{Sender: "ACME", Message: "Your link {{contact.firstname}}"}},
		{Action: voice.KeyAction{Key: "9", Action: voice.ActionUnsubscribe}},
	}
	return r
}

func status(s string) voice.CallEvent {
	return voice.CallEvent{EventID: "CA1/" + s, Kind: voice.EventStatus, Status: s}
}

func key(k string, n int) voice.CallEvent {
	return voice.CallEvent{EventID: "CA1/key/" + string(rune('0'+n)), Kind: voice.EventKey, Key: k}
}

func TestVoiceDelivered(t *testing.T) {
	c := newCallTest(t)
	answered := status(voice.StatusAnswered)
	answered.AnsweredBy = voice.AnsweredByMachine
	c.event(10*time.Second, status(voice.StatusRinging))
	c.event(20*time.Second, answered)
	c.event(21*time.Second, answered) // re-delivered by the outbox: applied once
	done := status(voice.StatusCompleted)
	done.DurationSeconds = 65
	c.event(90*time.Second, done)
	res := c.run(voiceRequest())
	if want := []outcome.Status{outcome.VoiceSent, outcome.VoiceDelivered}; !slices.Equal(c.statuses, want) {
		t.Fatalf("statuses %v, want %v", c.statuses, want)
	}
	out := c.only().Outputs
	if out["voice_status"] != "VOICE_DELIVERED" || out["answered_by"] != "machine" || out["call_duration"] != "65" || out["call_units"] != "2" {
		t.Fatalf("outputs %v", out)
	}
	if c.only().FailContinue || res.Units != 2 || res.AnsweredBy != "machine" {
		t.Fatalf("result %+v", res)
	}
	if len(c.placed) != 1 || c.placed[0].To != "+33612345601" || c.placed[0].From != "+33900000001" || c.placed[0].Script.Opening.Text == "" {
		t.Fatalf("placed %+v", c.placed)
	}
	if c.events[0].Channel != "voice" || c.events[1].Detail["answered_by"] != "machine" {
		t.Fatalf("events %+v", c.events)
	}
}

func TestVoiceBusyNotDelivered(t *testing.T) {
	c := newCallTest(t)
	busy := status(voice.StatusBusy)
	busy.Code = "486"
	c.event(15*time.Second, busy)
	res := c.run(voiceRequest())
	if want := []outcome.Status{outcome.VoiceSent, outcome.VoiceNotDelivered}; !slices.Equal(c.statuses, want) {
		t.Fatalf("statuses %v, want %v", c.statuses, want)
	}
	if res.ErrorCode != outcome.CallBusy {
		t.Fatalf("result %+v", res)
	}
	out := c.only().Outputs
	if out["voice_status"] != "VOICE_NOT_DELIVERED" || out["error_code"] != "CALL_BUSY" || out["call_units"] != "0" {
		t.Fatalf("outputs %v", out)
	}
}

func TestVoiceWaitForNoneCompletesWhenPlaced(t *testing.T) {
	c := newCallTest(t)
	req := voiceRequest()
	req.Inputs.WaitFor = WaitNone
	c.event(20*time.Second, status(voice.StatusAnswered))
	c.event(40*time.Second, status(voice.StatusCompleted))
	c.run(req)
	if out := c.only().Outputs; out["voice_status"] != "VOICE_SENT" {
		t.Fatalf("outputs %v", out)
	}
	if want := []outcome.Status{outcome.VoiceSent, outcome.VoiceDelivered}; !slices.Equal(c.statuses, want) {
		t.Fatalf("statuses %v", c.statuses)
	}
}

func TestVoiceContactOnly(t *testing.T) {
	c := newCallTest(t)
	req := voiceRequest()
	req.ObjectType = "deal"
	res := c.run(req)
	if res.Status != outcome.VoiceNotSent || res.ErrorCode != outcome.VoiceContactOnly || c.prepared != 0 || len(c.placed) != 0 {
		t.Fatalf("result %+v, prepared %d, placed %d", res, c.prepared, len(c.placed))
	}
	if !c.only().FailContinue || c.only().Outputs["error_code"] != "VOICE_CONTACT_ONLY" {
		t.Fatalf("completion %+v", c.only())
	}
}

func TestVoiceSuppressedRightBeforeTheCall(t *testing.T) {
	c := newCallTest(t)
	c.place = func(activities.PlaceCallInput) activities.PlaceCallResult {
		return activities.PlaceCallResult{ErrorCode: outcome.OptedOut, ErrorMessage: "the recipient opted out of calls (ivr_key)"}
	}
	res := c.run(voiceRequest())
	if res.Status != outcome.VoiceNotSent || res.ErrorCode != outcome.OptedOut || !c.only().FailContinue {
		t.Fatalf("result %+v, completion %+v", res, c.completed)
	}
	if !c.events[0].OptedOut {
		t.Fatal("the NOT_SENT event does not carry the opt-out")
	}
}

// A prospecting call prepared on a Saturday sleeps until the window opens; a window that closed
// again right before the call sends it back to the hold.
func TestVoiceHeldUntilTheWindow(t *testing.T) {
	c := newCallTest(t)
	start := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC) // Saturday 10:00 in Paris
	c.env.SetStartTime(start)
	monday := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) // Monday 10:00 in Paris
	prepare := c.prepare
	c.prepare = func(in activities.PrepareCallInput) activities.PreparedCall {
		p := prepare(in)
		p.CallAt, p.Held, p.HeldReason = monday, true, "France: prospecting calls allowed …"
		return p
	}
	place := c.place
	c.place = func(in activities.PlaceCallInput) activities.PlaceCallResult {
		if len(c.placed) == 1 {
			later := monday.Add(4 * time.Hour)
			return activities.PlaceCallResult{DeferUntil: &later, DeferReason: "closed"}
		}
		return place(in)
	}
	c.env.RegisterDelayedCallback(func() {
		if st := c.query(); st.WakeAt == nil || !st.WakeAt.Equal(monday) || st.HeldReason == "" {
			t.Errorf("state while held: %+v", st)
		}
	}, time.Hour)
	c.event(49*time.Hour+20*time.Second, status(voice.StatusNoAnswer))
	c.run(voiceRequest())
	if len(c.placedAt) != 2 || !c.placedAt[0].Equal(monday) || !c.placedAt[1].Equal(monday.Add(4*time.Hour)) {
		t.Fatalf("placed at %v, want Monday 10:00 then 14:00 Paris", c.placedAt)
	}
	if want := []outcome.Status{outcome.VoiceSent, outcome.VoiceNotDelivered}; !slices.Equal(c.statuses, want) {
		t.Fatalf("statuses %v", c.statuses)
	}
}

func (c *callTest) query() CallState {
	c.t.Helper()
	v, err := c.env.QueryWorkflow(QueryState)
	if err != nil {
		c.t.Fatal(err)
	}
	var st CallState
	if err := v.Get(&st); err != nil {
		c.t.Fatal(err)
	}
	return st
}

func TestIVRKeyTransfer(t *testing.T) {
	c := newCallTest(t)
	c.event(20*time.Second, status(voice.StatusAnswered))
	c.event(25*time.Second, key("5", 1)) // wrong key: prompted again by the script
	c.event(30*time.Second, key("1", 2))
	c.event(31*time.Second, key("1", 2)) // re-delivered
	done := status(voice.StatusCompleted)
	done.DurationSeconds = 50
	c.event(80*time.Second, done)
	res := c.run(ivrRequest())
	if want := []outcome.Status{outcome.VoiceSent, outcome.VoiceDelivered, outcome.VoiceKeyPressed}; !slices.Equal(c.statuses, want) {
		t.Fatalf("statuses %v, want %v", c.statuses, want)
	}
	out := c.only().Outputs
	if out["key_pressed"] != "1" || out["key_action"] != "transfer" || out["voice_status"] != "VOICE_KEY_PRESSED" || out["call_units"] != "1" {
		t.Fatalf("outputs %v", out)
	}
	if res.Key != "1" || len(c.children) != 0 {
		t.Fatalf("result %+v, children %d", res, len(c.children))
	}
	if c.events[0].Channel != "ivr" {
		t.Fatalf("channel %q", c.events[0].Channel)
	}
}

func TestIVRKeySendsChildSMS(t *testing.T) {
	c := newCallTest(t)
	c.smsNow = outcome.SMSDelivered
	c.event(20*time.Second, status(voice.StatusAnswered))
	c.event(30*time.Second, key("2", 1))
	c.event(60*time.Second, status(voice.StatusCompleted))
	res := c.run(ivrRequest())
	if len(c.children) != 1 {
		t.Fatalf("%d child SMS started", len(c.children))
	}
	child := c.children[0]
	if child.MessageID != ChildSMSMessageID("c-1", "2") || child.CallbackID != "" || child.Inputs.Sender != "ACME" ||
		child.Inputs.Country != "FR" || child.Inputs.MessageType != "marketing" || child.Inputs.WaitFor != WaitNone || child.ObjectID != "901" {
		t.Fatalf("child request %+v", child)
	}
	out := c.only().Outputs
	if out["sms_message_id"] != child.MessageID || out["sms_status"] != "SMS_DELIVERED" || out["key_action"] != "sms" {
		t.Fatalf("outputs %v", out)
	}
	if res.SMSStatus != outcome.SMSDelivered {
		t.Fatalf("result %+v", res)
	}
}

func TestIVRKeyUnsubscribes(t *testing.T) {
	c := newCallTest(t)
	c.event(20*time.Second, status(voice.StatusAnswered))
	c.event(30*time.Second, key("9", 1))
	c.event(60*time.Second, status(voice.StatusCompleted))
	c.run(ivrRequest())
	want := []outcome.Status{outcome.VoiceSent, outcome.VoiceDelivered, outcome.VoiceKeyPressed, outcome.VoiceUnsubscribed}
	if !slices.Equal(c.statuses, want) {
		t.Fatalf("statuses %v, want %v", c.statuses, want)
	}
	if len(c.optOuts) != 1 || c.optOuts[0].Channel != "voice" || c.optOuts[0].Phone != "+33612345601" || c.optOuts[0].OptIn {
		t.Fatalf("opt-outs %+v", c.optOuts)
	}
	if out := c.only().Outputs; out["voice_status"] != "VOICE_UNSUBSCRIBED" || out["key_action"] != "unsubscribe" {
		t.Fatalf("outputs %v", out)
	}
}

// No end reported by the carrier: the call completes after the end wait, flagged.
func TestVoiceEndNeverReported(t *testing.T) {
	c := newCallTest(t)
	c.event(20*time.Second, status(voice.StatusAnswered))
	res := c.run(voiceRequest())
	if res.Status != outcome.VoiceDelivered || res.ErrorCode != outcome.CallUnconfirmed {
		t.Fatalf("result %+v", res)
	}
	if out := c.only().Outputs; out["error_code"] != "CALL_UNCONFIRMED" {
		t.Fatalf("outputs %v", out)
	}
}

func TestUnits(t *testing.T) {
	for _, tt := range []struct {
		s        int
		answered bool
		want     int
	}{{0, false, 0}, {0, true, 1}, {1, true, 1}, {60, true, 1}, {61, true, 2}, {125, true, 3}} {
		if got := units(tt.s, tt.answered); got != tt.want {
			t.Errorf("units(%d, %v) = %d, want %d", tt.s, tt.answered, got, tt.want)
		}
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"smsflow/carrier/sim"
	"smsflow/hubspot/hubspottest"
	"smsflow/outcome"
	"smsflow/store"
	"smsflow/voice"
	"smsflow/workflows"
)

// The caller id the calls come from, one of the harness portal's numbers.
const callerID = "+33900000001"

// A Tuesday 11:00 in Paris: the French window of prospecting calls is open.
var tuesdayMorning = time.Date(2026, 12, 1, 11, 0, 0, 0, paris)

// callStack is a stack whose portal owns the caller id.
func callStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	if o.parisNow.IsZero() {
		o.parisNow = tuesdayMorning
	}
	s := newStack(t, o)
	if err := s.db.AddSender(context.Background(), portal, callerID, false, store.SenderManual); err != nil {
		t.Fatal(err)
	}
	return s
}

// answers sets how a number answers calls in the simulator.
func answers(t *testing.T, s *stack, number string, v sim.VoiceNumber) {
	t.Helper()
	if err := s.sim.SetVoiceNumber(number, v); err != nil {
		t.Fatal(err)
	}
}

// press is a key pressed shortly after its menu starts.
func press(key string) sim.KeyPress {
	return sim.KeyPress{Key: key, After: sim.Duration(150 * time.Millisecond)}
}

func voiceInputs(kv ...string) map[string]string {
	m := map[string]string{"country": "FR", "caller_id": callerID, "message_type": "marketing", "language": "fr-FR",
		"text": "Bonjour {{contact.firstname}}, votre rendez-vous est confirmé."}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func ivrInputs(kv ...string) map[string]string {
	m := voiceInputs("text", "Bonjour {{contact.firstname}}. Tapez 1 pour un conseiller, 2 pour recevoir le lien par SMS, 9 pour ne plus être appelé.",
		"key_1_action", "transfer", "key_1_transfer_to", "+33900000002", "key_1_text", "Un conseiller va vous répondre.",
		"key_2_action", "sms", "key_2_text", "Vous allez recevoir un SMS.", "key_2_sms_message", "Votre lien, {{contact.firstname}} : https://shop.example.com",
		"sms_sender", "ACME", "key_9_action", "unsubscribe", "key_9_text", "Vous ne serez plus appelé.",
		"wrong_key_text", "Cette touche n'est pas valide.", "repeats", "1")
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// call plays HubSpot running a call action (voice or ivr) on a contact; it must be accepted.
func call(t *testing.T, s *stack, kind, callbackID string, contactID int64, in map[string]string) string {
	t.Helper()
	resp := s.callAction(kind, callbackID, contactID, in)
	if resp.Status != 200 || resp.State != "BLOCK" {
		t.Fatalf("action answer = %+v", resp)
	}
	return workflows.MessageIDForCallback(portal, callbackID)
}

func (s *stack) callAction(kind, callbackID string, contactID int64, in map[string]string) hubspottest.ActionResponse {
	s.t.Helper()
	resp, err := s.ExecuteAction(context.Background(), kind, callbackID, "CONTACT", contactID, in)
	if err != nil {
		s.t.Fatalf("%v (%+v)", err, resp)
	}
	return resp
}

// expectCall waits for the call's action completion and checks its status and error code.
func expectCall(t *testing.T, s *stack, callbackID string, status outcome.Status, code outcome.Code) *hubspottest.Completion {
	t.Helper()
	c := s.completion(callbackID)
	if c.Outputs["voice_status"] != string(status) || c.Outputs["error_code"] != string(code) {
		t.Fatalf("completed with %v, want voice_status %s error_code %q", c.Outputs, status, code)
	}
	return c
}

// callResult waits for the call's workflow to end.
func (s *stack) callResult(messageID string) workflows.VoiceResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.VoiceResult
	if err := s.tc.GetWorkflow(ctx, workflows.SMSWorkflowID(messageID), "").Get(ctx, &res); err != nil {
		s.t.Fatalf("workflow of %s: %v", messageID, err)
	}
	return res
}

// callState asks a running call's workflow where it is.
func (s *stack) callState(messageID string) workflows.CallState {
	s.t.Helper()
	v, err := s.tc.QueryWorkflow(context.Background(), workflows.SMSWorkflowID(messageID), "", workflows.QueryState)
	if err != nil {
		s.t.Fatal(err)
	}
	var st workflows.CallState
	if err := v.Get(&st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// simCall waits for the simulator to finish playing a call.
func (s *stack) simCall(messageID string) sim.CallRecord {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec, err := s.sim.WaitCall(ctx, messageID)
	if err != nil {
		s.t.Fatalf("call %s in the simulator: %v", messageID, err)
	}
	return rec
}

// voiceTemplates are the voice statuses of the harness's timeline templates.
var voiceTemplates = map[string]string{"1008": "VOICE_SENT", "1009": "VOICE_NOT_SENT", "1010": "VOICE_DELIVERED",
	"1011": "VOICE_NOT_DELIVERED", "1012": "VOICE_KEY_PRESSED", "1013": "VOICE_UNSUBSCRIBED"}

// callTimeline lists the voice timeline events HubSpot received, in arrival order.
func (s *stack) callTimeline() []string {
	s.t.Helper()
	s.synced()
	var out []string
	for _, c := range s.hubspot.CallsTo("POST", "/crm/v3/timeline/events") {
		if c.Status >= 300 {
			continue
		}
		type event struct {
			TemplateID string `json:"eventTemplateId"`
		}
		var body struct {
			event
			Inputs []event `json:"inputs"`
		}
		if err := json.Unmarshal(c.Body, &body); err != nil {
			s.t.Fatalf("timeline call body: %v", err)
		}
		events := body.Inputs
		if strings.HasSuffix(c.Path, "/events") {
			events = []event{body.event}
		}
		for _, ev := range events {
			if st, ok := voiceTemplates[ev.TemplateID]; ok {
				out = append(out, st)
			}
		}
	}
	return out
}

func TestVoiceDelivered(t *testing.T) {
	s := callStack(t, stackOptions{})
	contact(s, "951", "+33612345651")
	answers(t, s, "+33612345651", sim.VoiceNumber{Answer: sim.AnswerHuman, TalkSeconds: 65})
	id := call(t, s, "voice", "cb-voice-delivered", 951, voiceInputs())
	c := expectCall(t, s, "cb-voice-delivered", outcome.VoiceDelivered, "")
	if c.Outputs["answered_by"] != voice.AnsweredByHuman || c.Outputs["call_duration"] != "65" || c.Outputs["call_units"] != "2" ||
		c.Outputs["message_id"] != id || c.Outputs["hs_execution_state"] != "SUCCESS" {
		t.Fatalf("outputs %v", c.Outputs)
	}
	rec := s.simCall(id)
	if rec.Requests != 1 || rec.From != callerID || !slices.Contains(rec.Said, "Bonjour Ana, votre rendez-vous est confirmé.") {
		t.Fatalf("simulated call %+v", rec)
	}
	if res := s.callResult(id); res.Status != outcome.VoiceDelivered || res.Units != 2 {
		t.Fatalf("result %+v", res)
	}
	if got := s.callTimeline(); !slices.Equal(got, []string{"VOICE_SENT", "VOICE_DELIVERED"}) {
		t.Fatalf("timeline %v", got)
	}
	m, err := s.db.GetMessage(context.Background(), id)
	if err != nil || m.Channel != "voice" || m.Status != string(outcome.VoiceDelivered) || m.Sender != callerID {
		t.Fatalf("message log %+v, %v", m, err)
	}
	h := s.history(id, "voice/delivered")
	t.Logf("delivered voice message: %d history events", len(h.Events))
}

func TestVoiceBusyNotDelivered(t *testing.T) {
	s := callStack(t, stackOptions{})
	contact(s, "952", "+33612345652")
	answers(t, s, "+33612345652", sim.VoiceNumber{Answer: sim.AnswerBusy})
	id := call(t, s, "voice", "cb-voice-busy", 952, voiceInputs())
	c := expectCall(t, s, "cb-voice-busy", outcome.VoiceNotDelivered, outcome.CallBusy)
	if c.Outputs["call_units"] != "0" || c.Outputs["hs_execution_state"] != "SUCCESS" {
		t.Fatalf("outputs %v", c.Outputs)
	}
	if got := s.callTimeline(); !slices.Equal(got, []string{"VOICE_SENT", "VOICE_NOT_DELIVERED"}) {
		t.Fatalf("timeline %v", got)
	}
	s.history(id, "voice/busy")
}

// Key 1 transfers the call: the script answers the simulator's key with the announcement and a
// Dial to the number; the workflow records KEY_PRESSED with the action.
func TestIVRKeyTransfer(t *testing.T) {
	s := callStack(t, stackOptions{})
	contact(s, "953", "+33612345653")
	answers(t, s, "+33612345653", sim.VoiceNumber{Answer: sim.AnswerHuman, TalkSeconds: 40, Keys: []sim.KeyPress{press("1")}})
	id := call(t, s, "ivr", "cb-ivr-transfer", 953, ivrInputs())
	c := expectCall(t, s, "cb-ivr-transfer", outcome.VoiceKeyPressed, "")
	if c.Outputs["key_pressed"] != "1" || c.Outputs["key_action"] != voice.ActionTransfer || c.Outputs["call_units"] != "1" {
		t.Fatalf("outputs %v", c.Outputs)
	}
	rec := s.simCall(id)
	if !slices.Equal(rec.Transfers, []string{"+33900000002"}) || !slices.Equal(rec.Pressed, []string{"1"}) {
		t.Fatalf("simulated call %+v", rec)
	}
	if got := s.callTimeline(); !slices.Equal(got, []string{"VOICE_SENT", "VOICE_DELIVERED", "VOICE_KEY_PRESSED"}) {
		t.Fatalf("timeline %v", got)
	}
	h := s.history(id, "voice/ivr_transfer")
	t.Logf("delivered IVR call with one key press: %d history events", len(h.Events))
}

// Key 2 sends an SMS: a child SendSMS workflow of its own message id, delivered and reported on
// its own (its own timeline events, completing no action), and in the call's outputs.
func TestIVRKeySendsSMS(t *testing.T) {
	s := callStack(t, stackOptions{})
	contact(s, "954", "+33612345654")
	answers(t, s, "+33612345654", sim.VoiceNumber{Answer: sim.AnswerHuman, TalkSeconds: 30, Keys: []sim.KeyPress{press("2")}})
	id := call(t, s, "ivr", "cb-ivr-sms", 954, ivrInputs())
	c := expectCall(t, s, "cb-ivr-sms", outcome.VoiceKeyPressed, "")
	child := workflows.ChildSMSMessageID(id, "2")
	if c.Outputs["key_action"] != voice.ActionSMS || c.Outputs["sms_message_id"] != child || c.Outputs["sms_status"] == "" ||
		c.Outputs["sms_status"] == string(outcome.Pending) {
		t.Fatalf("outputs %v", c.Outputs)
	}
	var st workflows.MessageState
	for deadline := time.Now().Add(time.Minute); st.Status != outcome.SMSDelivered && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		st = s.state(child)
	}
	if st.Status != outcome.SMSDelivered {
		t.Fatalf("child SMS state %+v", st)
	}
	m, err := s.db.GetMessage(context.Background(), child)
	if err != nil || m.Channel != "sms" || !strings.HasPrefix(m.Text, "Votre lien, Ana") || m.CallbackID != "" {
		t.Fatalf("child SMS log %+v, %v", m, err)
	}
	if s.sim.Sends(child) != 1 {
		t.Fatalf("the child SMS was sent %d times", s.sim.Sends(child))
	}
	s.history(id, "voice/ivr_sms")
	s.history(child, "voice/ivr_sms_child")
}

// Key 9 unsubscribes the number from calls: VOICE_UNSUBSCRIBED, a voice suppression, and a later
// call to the number is not placed.
func TestIVRKeyUnsubscribes(t *testing.T) {
	s := callStack(t, stackOptions{})
	contact(s, "955", "+33612345655")
	answers(t, s, "+33612345655", sim.VoiceNumber{Answer: sim.AnswerHuman, TalkSeconds: 20, Keys: []sim.KeyPress{press("9")}})
	id := call(t, s, "ivr", "cb-ivr-unsub", 955, ivrInputs())
	c := expectCall(t, s, "cb-ivr-unsub", outcome.VoiceUnsubscribed, "")
	if c.Outputs["key_pressed"] != "9" || c.Outputs["key_action"] != voice.ActionUnsubscribe {
		t.Fatalf("outputs %v", c.Outputs)
	}
	ctx := context.Background()
	if off, _, err := s.db.Suppressed(ctx, portal, "voice", "+33612345655"); err != nil || !off {
		t.Fatalf("voice suppression %v, %v", off, err)
	}
	if off, _, _ := s.db.Suppressed(ctx, portal, "sms", "+33612345655"); off {
		t.Fatal("a voice unsubscribe suppressed SMS too")
	}
	s.history(id, "voice/ivr_unsubscribe")

	later := call(t, s, "voice", "cb-voice-after-unsub", 955, voiceInputs())
	c = expectCall(t, s, "cb-voice-after-unsub", outcome.VoiceNotSent, outcome.OptedOut)
	if c.Outputs["hs_execution_state"] != "FAIL_CONTINUE" {
		t.Fatalf("outputs %v", c.Outputs)
	}
	if _, placed := s.sim.Call(later); placed {
		t.Fatal("a call to an unsubscribed number reached the carrier")
	}
	s.history(later, "voice/opted_out")
}

// A wrong key hears the prompt and the menu again; the valid key that follows is the one taken.
func TestIVRWrongKeyThenValid(t *testing.T) {
	s := callStack(t, stackOptions{})
	contact(s, "956", "+33612345656")
	answers(t, s, "+33612345656", sim.VoiceNumber{Answer: sim.AnswerHuman, TalkSeconds: 45, Keys: []sim.KeyPress{press("5"), press("1")}})
	id := call(t, s, "ivr", "cb-ivr-wrong", 956, ivrInputs())
	c := expectCall(t, s, "cb-ivr-wrong", outcome.VoiceKeyPressed, "")
	if c.Outputs["key_pressed"] != "1" || c.Outputs["key_action"] != voice.ActionTransfer {
		t.Fatalf("outputs %v", c.Outputs)
	}
	rec := s.simCall(id)
	if !slices.Equal(rec.Pressed, []string{"5", "1"}) || !slices.Contains(rec.Said, "Cette touche n'est pas valide.") {
		t.Fatalf("simulated call %+v", rec)
	}
	h := s.history(id, "voice/ivr_wrong_key")
	signalled := 0
	for _, e := range h.Events {
		if a := e.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == voice.SignalCallEvent {
			signalled++
		}
	}
	if signalled < 4 { // answered, two keys, completed
		t.Fatalf("%d call events signalled, want the answer, both keys and the end", signalled)
	}
	if got := s.callTimeline(); !slices.Equal(got, []string{"VOICE_SENT", "VOICE_DELIVERED", "VOICE_KEY_PRESSED"}) {
		t.Fatalf("timeline %v: a wrong key is no KEY_PRESSED", got)
	}
}

// A prospecting call to France asked for on a Saturday sleeps on a durable timer until Monday
// 10:00 in Paris, and is placed then. The windows' clock runs 10,000 times faster than the real
// one (the weekend in about 17 s); the workflow's timer runs on the real clock.
func TestVoiceProspectingSaturdayHeldToMonday(t *testing.T) {
	const speed = 10000
	saturday := time.Date(2026, 11, 28, 11, 0, 0, 0, paris)
	monday := time.Date(2026, 11, 30, 10, 0, 0, 0, paris)
	s := callStack(t, stackOptions{parisNow: saturday, clockSpeed: speed})
	contact(s, "957", "+33612345657")
	answers(t, s, "+33612345657", sim.VoiceNumber{Answer: sim.AnswerHuman, TalkSeconds: 20})
	id := call(t, s, "voice", "cb-voice-saturday", 957, voiceInputs())
	var st workflows.CallState
	for deadline := time.Now().Add(10 * time.Second); st.WakeAt == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		st = s.callState(id)
	}
	if st.WakeAt == nil {
		t.Fatal("the call was never held")
	}
	if wake := s.clock.At(*st.WakeAt).In(paris); wake.Sub(monday).Abs() > time.Minute {
		t.Fatalf("held until %v on the windows' clock, want Monday 10:00 Paris", wake)
	}
	if st.Status != outcome.Pending || !strings.Contains(st.HeldReason, "prospecting calls") || !strings.Contains(st.HeldReason, "Mon 2026-11-30 10:00") {
		t.Fatalf("state %+v", st)
	}
	if _, placed := s.sim.Call(id); placed {
		t.Fatal("a held call reached the carrier")
	}
	expectCall(t, s, "cb-voice-saturday", outcome.VoiceDelivered, "")
	m, err := s.db.GetMessage(context.Background(), id)
	if err != nil || m.SentAt == nil || m.SendAt == nil {
		t.Fatalf("message log %+v, %v", m, err)
	}
	placedAt := s.clock.At(*m.SentAt).In(paris)
	if placedAt.Before(monday) || placedAt.After(monday.Add(2*time.Hour)) {
		t.Fatalf("the call was placed at %v on the windows' clock, want at Monday 10:00", placedAt)
	}
	t.Logf("held from %s to %s, placed at %s Paris (clock ×%d)", saturday.Format("Mon 15:04"), s.clock.At(*st.WakeAt).In(paris).Format("Mon 15:04"),
		placedAt.Format("Mon 15:04:05"), speed)
	s.history(id, "voice/held_to_monday")
}

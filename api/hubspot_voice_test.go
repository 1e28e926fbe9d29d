package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"smsflow/hubspot/app"
	"smsflow/voice"
	"smsflow/workflows"
)

// voiceTemporal records the call workflows the handler starts.
type voiceTemporal struct {
	client.Client
	mu     sync.Mutex
	starts []client.StartWorkflowOptions
	reqs   []workflows.VoiceRequest
}

func (r *voiceTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if wf != workflows.SendVoiceName || len(args) != 1 {
		return nil, fmt.Errorf("unexpected start of %v with %d args", wf, len(args))
	}
	r.starts = append(r.starts, o)
	r.reqs = append(r.reqs, args[0].(workflows.VoiceRequest))
	return nil, nil
}

func callInputs(extra map[string]string) map[string]string {
	in := map[string]string{"country": "FR", "caller_id": "+33900000001", "language": "fr-FR", "text": "Bonjour {{contact.firstname}}"}
	for k, v := range extra {
		in[k] = v
	}
	return in
}

func ivrInputs(extra map[string]string) map[string]string {
	in := callInputs(map[string]string{
		"key_1_action": "transfer", "key_1_transfer_to": "+33 9 00 00 00 02", "key_1_text": "Un conseiller va vous répondre",
		"key_2_action": "sms", "key_2_sms_message": "Votre lien {{contact.firstname}}", "sms_sender": "ACME", "sms_add_stop": "true",
		"key_3_action": "play", "key_3_audio_url": "https://cdn.example.com/offre.mp3",
		"key_9_action": "unsubscribe", "wrong_key_text": "Touche invalide", "repeats": "2",
	})
	for k, v := range extra {
		in[k] = v
	}
	return in
}

func callExecution(cb string, inputs map[string]string) []byte {
	ex := execution(cb, nil)
	ex.Inputs = inputs
	return ex.Body()
}

func TestVoiceActionStartsTheCall(t *testing.T) {
	rt := &voiceTemporal{}
	srv, _ := actionServer(t, rt, "q", "")
	u := srv.URL + "/hubspot/actions/voice"
	got := post(t, signed(t, u, u, actionSecret, callExecution("ap-voice", callInputs(nil)), time.Now()))
	if got.status != 200 || got.outputs["hs_execution_state"] != "BLOCK" || got.outputs["hs_expiration_duration"] != "P5D" {
		t.Fatalf("answer %d %v", got.status, got.outputs)
	}
	if len(rt.reqs) != 1 {
		t.Fatalf("%d starts", len(rt.reqs))
	}
	req, o := rt.reqs[0], rt.starts[0]
	if req.MessageID != workflows.MessageIDForCallback(62515, "ap-voice") || o.ID != workflows.SMSWorkflowID(req.MessageID) || o.TaskQueue != "q" {
		t.Fatalf("start %+v of %+v", o, req)
	}
	i := req.Inputs
	if req.Channel != "voice" || req.ObjectType != "contact" || i.CallerID != "+33900000001" || i.MessageType != "marketing" ||
		i.Speech.Text != "Bonjour {{contact.firstname}}" || i.Speech.Language != "fr-FR" || i.WaitFor != "delivery" || i.WaitHours != 24 ||
		i.CampaignName != "HUBSPOT_VOICE_WORKFLOW_192814114" || len(i.Keys) != 0 {
		t.Fatalf("request %+v", req)
	}
	if ch, _ := o.TypedSearchAttributes.GetKeyword(workflows.ChannelKey); ch != "voice" {
		t.Fatalf("channel search attribute %q", ch)
	}
}

func TestIVRActionReadsTheMenu(t *testing.T) {
	rt := &voiceTemporal{}
	srv, _ := actionServer(t, rt, "q", "")
	u := srv.URL + "/hubspot/actions/ivr"
	got := post(t, signed(t, u, u, actionSecret, callExecution("ap-ivr", ivrInputs(nil)), time.Now()))
	if got.outputs["hs_execution_state"] != "BLOCK" || len(rt.reqs) != 1 {
		t.Fatalf("answer %v, %d starts", got.outputs, len(rt.reqs))
	}
	req := rt.reqs[0]
	i := req.Inputs
	if req.Channel != "ivr" || len(i.Keys) != 4 || i.Repeats != 2 || i.WrongKey.Text != "Touche invalide" {
		t.Fatalf("request %+v", req)
	}
	byKey := map[string]workflows.KeyInput{}
	for _, k := range i.Keys {
		byKey[k.Action.Key] = k
	}
	if k := byKey["1"]; k.Action.Action != voice.ActionTransfer || k.Action.TransferTo != "+33900000002" || k.Action.Speech.Text == "" {
		t.Errorf("key 1 %+v", k)
	}
	if k := byKey["2"]; k.Action.Action != voice.ActionSMS || k.SMS == nil || k.SMS.Sender != "ACME" || !k.SMS.AddStop ||
		k.SMS.Message != "Votre lien {{contact.firstname}}" || k.SMS.MessageType != "marketing" {
		t.Errorf("key 2 %+v %+v", k, k.SMS)
	}
	if k := byKey["3"]; k.Action.Action != voice.ActionPlay || k.Action.Speech.AudioURL != "https://cdn.example.com/offre.mp3" {
		t.Errorf("key 3 %+v", k)
	}
	if k := byKey["9"]; k.Action.Action != voice.ActionUnsubscribe {
		t.Errorf("key 9 %+v", k)
	}
	if ch, _ := rt.starts[0].TypedSearchAttributes.GetKeyword(workflows.ChannelKey); ch != "ivr" {
		t.Fatalf("channel search attribute %q", ch)
	}
}

func TestCallActionsRefuseInvalidInputs(t *testing.T) {
	rt := &voiceTemporal{}
	srv, _ := actionServer(t, rt, "q", "")
	cases := []struct {
		kind   string
		inputs map[string]string
		code   string
	}{
		{"voice", callInputs(map[string]string{"caller_id": "ACME"}), "INVALID_CALLER_ID"},
		{"voice", callInputs(map[string]string{"country": "XX"}), "INVALID_COUNTRY"},
		{"voice", callInputs(map[string]string{"text": " "}), "MISSING_SPEECH"},
		{"voice", callInputs(map[string]string{"audio_url": "http://cdn.example.com/a.mp3"}), "INVALID_AUDIO_URL"},
		{"voice", callInputs(map[string]string{"language": "French"}), "INVALID_LANGUAGE"},
		{"voice", callInputs(map[string]string{"message_type": "promo"}), "INVALID_MESSAGE_TYPE"},
		{"voice", callInputs(map[string]string{"wait_for": "click"}), "INVALID_WAIT_FOR"},
		{"voice", callInputs(map[string]string{"wait_hours": "-3"}), "INVALID_WAIT_HOURS"},
		{"voice", callInputs(map[string]string{"phone_property": "Mobile Phone"}), "INVALID_PHONE_PROPERTY"},
		{"ivr", callInputs(nil), "INVALID_KEY_ACTION"},
		{"ivr", ivrInputs(map[string]string{"key_4_action": "dance"}), "INVALID_KEY_ACTION"},
		{"ivr", ivrInputs(map[string]string{"key_1_transfer_to": ""}), "INVALID_KEY_ACTION"},
		{"ivr", ivrInputs(map[string]string{"key_2_sms_message": ""}), "INVALID_KEY_ACTION"},
		{"ivr", ivrInputs(map[string]string{"key_3_audio_url": ""}), "MISSING_SPEECH"},
		{"ivr", ivrInputs(map[string]string{"sms_sender": "Far Too Long Sender"}), "INVALID_SENDER"},
		{"ivr", ivrInputs(map[string]string{"repeats": "4"}), "INVALID_REPEATS"},
		{"ivr", ivrInputs(map[string]string{"sms_add_stop": "maybe"}), "INVALID_BOOLEAN"},
	}
	for _, tc := range cases {
		t.Run(tc.kind+"/"+tc.code, func(t *testing.T) {
			u := srv.URL + "/hubspot/actions/" + tc.kind
			got := post(t, signed(t, u, u, actionSecret, callExecution("ap-bad", tc.inputs), time.Now()))
			if got.status != 200 || got.outputs["hs_execution_state"] != "FAIL_CONTINUE" || got.outputs["error_code"] != tc.code || len(got.outputs["error_message"]) < 10 {
				t.Fatalf("answer %d %v, want FAIL_CONTINUE %s with a message", got.status, got.outputs, tc.code)
			}
		})
	}
	// Calls go to contacts only: a deal's execution completes at once.
	u := srv.URL + "/hubspot/actions/voice"
	ex := execution("ap-deal", nil)
	ex.Inputs, ex.ObjectType = callInputs(nil), "DEAL"
	if got := post(t, signed(t, u, u, actionSecret, ex.Body(), time.Now())); got.outputs["error_code"] != "VOICE_CONTACT_ONLY" || got.outputs["hs_execution_state"] != "FAIL_CONTINUE" {
		t.Fatalf("deal: %v", got.outputs)
	}
	if len(rt.reqs) != 0 {
		t.Fatalf("invalid inputs started %d calls", len(rt.reqs))
	}
	// Every code has an execution rule in its action's definition, for a readable reason.
	for _, kind := range []string{"voice", "ivr"} {
		def, err := app.Action(kind, "https://x")
		if err != nil {
			t.Fatal(err)
		}
		ruled := map[string]bool{}
		for _, r := range def["executionRules"].([]any) {
			switch v := r.(map[string]any)["conditions"].(map[string]any)["error_code"].(type) {
			case string:
				ruled[v] = true
			case []any:
				for _, c := range v {
					ruled[c.(string)] = true
				}
			}
		}
		for _, tc := range cases {
			if tc.kind == kind && !ruled[tc.code] {
				t.Errorf("%s: no execution rule for %s", kind, tc.code)
			}
		}
	}
}

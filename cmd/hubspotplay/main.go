// Command hubspotplay plays HubSpot against a running smsflow (`make run`): it installs the app on
// the fake HubSpot's portal (OAuth), then executes the "Send SMS", "Send voice message" or
// "Interactive voice call" action for a contact, signed like HubSpot signs it, and says where to
// watch the message in the Temporal Web UI. For a call it first tells the carrier simulator how
// the contact's phone answers (a person, who presses the keys given with -keys).
//
//	bin/hubspotplay                         an SMS
//	bin/hubspotplay -action voice           a voice message, answered
//	bin/hubspotplay -action ivr -keys 5,2   an interactive call: a wrong key, then 2 (an SMS)
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"smsflow/hubspot/hubspottest"
	"smsflow/internal/devstack"
	"smsflow/workflows"
)

// play is what to play.
type play struct {
	apiURL, uiURL, simURL, secret string
	contact                       int64
	country, message, kind        string
	waitFor, action, keys         string
}

func main() {
	var p play
	flag.StringVar(&p.apiURL, "api", fmt.Sprintf("http://localhost:%d", devstack.RunAPIPort), "smsflow API")
	flag.StringVar(&p.uiURL, "ui", fmt.Sprintf("http://localhost:%d", devstack.RunUIPort), "Temporal Web UI")
	flag.StringVar(&p.simURL, "sim", fmt.Sprintf("http://localhost:%d", devstack.RunCarrierPort), "carrier simulator (calls: how the phone answers)")
	flag.StringVar(&p.secret, "secret", devstack.DevClientSecret, "HubSpot app client secret (signs the request)")
	flag.Int64Var(&p.contact, "contact", 901, "contact id (the fake HubSpot gives contact N the number +336 followed by N on 8 digits)")
	flag.StringVar(&p.country, "country", "FR", "recipient country")
	flag.StringVar(&p.message, "message", "", "message text (SMS) or text to speech (calls); default: an example")
	flag.StringVar(&p.kind, "type", "transactional", "marketing (a prospecting call) or transactional")
	flag.StringVar(&p.waitFor, "wait", "delivery", "none, delivery, click or reply (calls: none or delivery)")
	flag.StringVar(&p.action, "action", "sms", "sms, voice or ivr")
	flag.StringVar(&p.keys, "keys", "1", "ivr: the keys the person presses, comma-separated (1 transfer, 2 SMS, 9 unsubscribe)")
	flag.Parse()
	if err := run(p); err != nil {
		fmt.Fprintln(os.Stderr, "hubspotplay:", err)
		os.Exit(1)
	}
}

func run(p play) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Install (idempotent): /oauth/install → fake authorize → /oauth/callback, tokens stored.
	resp, err := http.Get(p.apiURL + "/oauth/install")
	if err != nil {
		return fmt.Errorf("install: %w (is `make run` up?)", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("install answered %d: %s", resp.StatusCode, body)
	}
	inputs, err := p.inputs(ctx)
	if err != nil {
		return err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	callbackID := "play-" + hex.EncodeToString(b)
	caller := &hubspottest.Caller{Secret: p.secret}
	ar, err := caller.Execute(ctx, p.apiURL+"/hubspot/actions/"+p.action, hubspottest.Execution{
		CallbackID: callbackID, PortalID: hubspottest.DefaultPortal, ActionDefinitionID: 1, WorkflowID: 1,
		ObjectType: "CONTACT", ObjectID: p.contact, Inputs: inputs,
	})
	if err != nil {
		return err
	}
	fmt.Printf("HubSpot got %d %s %v\n", ar.Status, ar.State, ar.Outputs)
	id := workflows.MessageIDForCallback(hubspottest.DefaultPortal, callbackID)
	fmt.Printf("message %s\nwatch it: %s/namespaces/default/workflows/%s\n", id, p.uiURL, workflows.SMSWorkflowID(id))
	return nil
}

// inputs are the action's input fields; for a call, the simulator is told how the phone answers.
func (p play) inputs(ctx context.Context) (map[string]string, error) {
	switch p.action {
	case "sms":
		return map[string]string{"country": p.country, "sender": devstack.DevSenders[0], "message_type": p.kind,
			"message": or(p.message, "Hello {{contact.firstname}}, your order has shipped."), "wait_for": p.waitFor}, nil
	case "voice", "ivr":
	default:
		return nil, fmt.Errorf("-action %q: want sms, voice or ivr", p.action)
	}
	in := map[string]string{"country": p.country, "caller_id": devstack.DevCallerID, "message_type": p.kind, "wait_for": p.waitFor,
		"text": or(p.message, "Hello {{contact.firstname}}, this is your delivery service.")}
	var keys []map[string]string
	if p.action == "ivr" {
		in["text"] = or(p.message, "Hello {{contact.firstname}}. Press 1 to talk to us, 2 to get the tracking link by SMS, 9 to stop these calls.")
		for k, v := range map[string]string{
			"key_1_action": "transfer", "key_1_transfer_to": "+33900000001", "key_1_text": "Please hold.",
			"key_2_action": "sms", "key_2_text": "We are sending you an SMS.", "key_2_sms_message": "Your tracking link: https://example.com/t/42",
			"sms_sender": devstack.DevSenders[0], "key_9_action": "unsubscribe", "key_9_text": "You will not be called again.",
			"wrong_key_text": "Sorry, that key is not in the menu.", "repeats": "1",
		} {
			in[k] = v
		}
		for _, k := range strings.Split(p.keys, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, map[string]string{"key": k, "after": "2s"})
			}
		}
	}
	number := fmt.Sprintf("+336%08d", p.contact)
	body, _ := json.Marshal(map[string]any{"number": number, "answer": "human", "keys": keys, "talk_seconds": 35})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.simURL+"/sim/voice/numbers", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tell the carrier simulator how the phone answers: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("carrier simulator answered %d to the number's settings", resp.StatusCode)
	}
	return in, nil
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// Command hubspotplay plays HubSpot against a running smsflow (`make run`): it installs the app on
// the fake HubSpot's portal (OAuth), then executes the "Send SMS" action for a contact, signed
// like HubSpot signs it, and says where to watch the message in the Temporal Web UI.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"smsflow/hubspot/hubspottest"
	"smsflow/internal/devstack"
	"smsflow/workflows"
)

func main() {
	apiURL := flag.String("api", fmt.Sprintf("http://localhost:%d", devstack.RunAPIPort), "smsflow API")
	uiURL := flag.String("ui", fmt.Sprintf("http://localhost:%d", devstack.RunUIPort), "Temporal Web UI")
	secret := flag.String("secret", devstack.DevClientSecret, "HubSpot app client secret (signs the request)")
	contact := flag.Int64("contact", 901, "contact id (the fake HubSpot gives contact N the number +336 followed by N on 8 digits)")
	country := flag.String("country", "FR", "recipient country")
	message := flag.String("message", "Hello {{contact.firstname}}, your order has shipped.", "message text")
	kind := flag.String("type", "transactional", "marketing or transactional")
	waitFor := flag.String("wait", "delivery", "none, delivery, click or reply")
	flag.Parse()
	if err := run(*apiURL, *uiURL, *secret, *contact, *country, *message, *kind, *waitFor); err != nil {
		fmt.Fprintln(os.Stderr, "hubspotplay:", err)
		os.Exit(1)
	}
}

func run(apiURL, uiURL, secret string, contact int64, country, message, kind, waitFor string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Install (idempotent): /oauth/install → fake authorize → /oauth/callback, tokens stored.
	resp, err := http.Get(apiURL + "/oauth/install")
	if err != nil {
		return fmt.Errorf("install: %w (is `make run` up?)", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("install answered %d: %s", resp.StatusCode, body)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	callbackID := "play-" + hex.EncodeToString(b)
	caller := &hubspottest.Caller{Secret: secret}
	ar, err := caller.Execute(ctx, apiURL+"/hubspot/actions/sms", hubspottest.Execution{
		CallbackID: callbackID, PortalID: hubspottest.DefaultPortal, ActionDefinitionID: 1, WorkflowID: 1,
		ObjectType: "CONTACT", ObjectID: contact,
		Inputs: map[string]string{"country": country, "sender": "SMSFLOW", "message_type": kind, "message": message, "wait_for": waitFor},
	})
	if err != nil {
		return err
	}
	fmt.Printf("HubSpot got %d %s %v\n", ar.Status, ar.State, ar.Outputs)
	id := workflows.MessageIDForCallback(hubspottest.DefaultPortal, callbackID)
	fmt.Printf("message %s\nwatch it: %s/namespaces/default/workflows/%s\n", id, uiURL, workflows.SMSWorkflowID(id))
	return nil
}

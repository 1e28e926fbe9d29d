package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"

	"smsflow/outcome"
	"smsflow/payloadcodec"
	"smsflow/workflows"
)

// The history of a delivered message, exported raw as anyone with access to Temporal (or to the
// Web UI without the codec server's token) gets it, holds neither the phone number in any of its
// forms nor the message's text: not in clear, not inside any base64 field.
func TestExportedHistoryHoldsNoPhoneOrText(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.hubspot.SetObject(portal, "contacts", "931", map[string]string{"mobilephone": "06 12 34 56 78", "firstname": "Ana"})
	id := send(t, s, "cb-encrypted", 931, inputs("message", "Hello {{contact.firstname}}, parcel QX7 waits at the depot.", "wait_for", "delivery"))
	expectCompletion(t, s, "cb-encrypted", outcome.SMSDelivered, "")
	if res := s.result(id); res.Status != outcome.SMSDelivered {
		t.Fatalf("workflow result = %+v (the test client must decode it)", res)
	}
	forbidden := []string{"+33612345678", "33612345678", "612345678", "0612345678", "06 12 34 56 78",
		"Hello Ana, parcel QX7 waits at the depot.", "parcel QX7", "waits at the depot"}

	// Exported by a client without the codec: the raw bytes Temporal stores.
	raw, err := client.Dial(client.Options{HostPort: os.Getenv("TEMPORAL_ADDRESS"), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	h := &history.History{}
	it := raw.GetWorkflowHistory(context.Background(), workflows.SMSWorkflowID(id), "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	exported, err := protojson.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	found, fields := personalData(t, exported, forbidden)
	if len(found) > 0 {
		t.Fatalf("the exported history holds %v", found)
	}
	encrypted := strings.Count(string(exported), `"encoding":"`+base64.StdEncoding.EncodeToString([]byte(payloadcodec.Encoding))+`"`)
	t.Logf("%d events, %d string fields checked, %d encrypted payloads", len(h.Events), fields, encrypted)
	if encrypted < 10 {
		t.Fatalf("only %d encrypted payloads in %d events: is the codec on?", encrypted, len(h.Events))
	}

	// The check finds the number where it is: the same input encoded without the codec.
	plain, err := converter.GetDefaultDataConverter().ToPayloads(map[string]string{"to": "+33612345678", "text": "Hello Ana, parcel QX7 waits at the depot."})
	if err != nil {
		t.Fatal(err)
	}
	leaky, _ := protojson.Marshal(plain)
	if found, _ := personalData(t, leaky, forbidden); len(found) == 0 {
		t.Fatal("the check found nothing in an unencrypted payload: it proves nothing")
	}
}

// personalData walks every string of the exported JSON, and what each decodes to as base64,
// and returns the forbidden strings found (with the field count).
func personalData(t *testing.T, exported []byte, forbidden []string) (found []string, fields int) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(exported, &doc); err != nil {
		t.Fatal(err)
	}
	hit := map[string]bool{}
	check := func(b []byte) {
		for _, f := range forbidden {
			if bytes.Contains(b, []byte(f)) {
				hit[f] = true
			}
		}
	}
	check(exported)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				check([]byte(k))
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			fields++
			check([]byte(v))
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
				if d, err := enc.DecodeString(v); err == nil {
					check(d)
				}
			}
		}
	}
	walk(doc)
	for f := range hit {
		found = append(found, f)
	}
	return found, fields
}

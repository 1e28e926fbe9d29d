package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"smsflow/carrier/twilio"
	"smsflow/carrier/vonage"
	"smsflow/config"
	"smsflow/internal/testenv"
	"smsflow/payloadcodec/codectest"
	"smsflow/voice"
	"smsflow/workflows"
)

func ivrScript(id string) voice.Script {
	return voice.Script{CallID: id, Opening: voice.Speech{Text: "Tapez 1, 2 ou 9", Language: "fr-FR"},
		WrongKey: voice.Speech{Text: "Touche inconnue"}, Repeats: 1, Keys: []voice.KeyAction{
			{Key: "1", Action: voice.ActionTransfer, Speech: voice.Speech{Text: "Transfert"}, TransferTo: "+33612345699"},
			{Key: "2", Action: voice.ActionSMS, Speech: voice.Speech{Text: "Un SMS arrive"}},
			{Key: "9", Action: voice.ActionUnsubscribe},
		}}
}

// newVoiceEnv is a hook environment with Twilio and Vonage as carriers and a call whose workflow
// (on a task queue nobody polls) accumulates its signals.
func newVoiceEnv(t *testing.T) (*hookEnv, string) {
	t.Helper()
	e := &hookEnv{t: t, db: testenv.Store(t), tc: testenv.Temporal(t)}
	e.cfg = config.Config{PublicBaseURL: testBase, Carrier: config.Carrier{Primary: "twilio", Secondary: "vonage",
		TwilioAuthToken: "tok", VonageSignatureSecret: "vsec"}}
	e.router = NewRouter(Deps{Log: slog.New(slog.DiscardHandler), Config: e.cfg, Temporal: e.tc, Store: e.db})
	ctx := context.Background()
	id := uuid.NewString()
	if err := e.db.SaveCallScript(ctx, 42, ivrScript(id)); err != nil {
		t.Fatal(err)
	}
	wid := workflows.SMSWorkflowID(id)
	if _, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: "voice-test-" + testenv.RandomID(),
		WorkflowRunTimeout: 10 * time.Minute}, "SignalRecorder"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.tc.TerminateWorkflow(context.Background(), wid, "", "test over") })
	return e, id
}

// twilioPost posts a form signed as Twilio signs (forged: with another token) and returns the
// status and body.
func (e *hookEnv) twilioPost(path string, form url.Values, forged bool) (int, string) {
	token := e.cfg.Carrier.TwilioAuthToken
	if forged {
		token = "not-the-token"
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, twilio.Signature(token, testBase+path, form))
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func (e *hookEnv) vonagePost(path, body, secret string) (int, string) {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+vonage.SignWebhookJWT(secret, []byte(body), time.Now()))
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// callEvents lists the CallEvent signals of the call's workflow, as "kind:status|key:action".
func (e *hookEnv) callEvents(id string) []voice.CallEvent {
	e.t.Helper()
	it := e.tc.GetWorkflowHistory(context.Background(), workflows.SMSWorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []voice.CallEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			e.t.Fatal(err)
		}
		a := ev.GetWorkflowExecutionSignaledEventAttributes()
		if ev.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED || a.GetSignalName() != voice.SignalCallEvent {
			continue
		}
		var ce voice.CallEvent
		if err := codectest.DataConverter().FromPayloads(a.GetInput(), &ce); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ce)
	}
	return out
}

func (e *hookEnv) waitCallEvents(id string, n int) []voice.CallEvent {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.callEvents(id)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTwilioVoiceWebhooks(t *testing.T) {
	e, id := newVoiceEnv(t)
	q := "?cid=" + id
	code, doc := e.twilioPost("/carriers/twilio/voice/answer"+q, url.Values{"CallSid": {"CA1"}, "CallStatus": {"in-progress"}}, false)
	wantMenu := `<Gather input="dtmf" numDigits="1" method="POST" timeout="5" action="http://api.test/carriers/twilio/voice/key?cid=` + id + `&amp;round=0">` +
		`<Say language="fr-FR">Tapez 1, 2 ou 9</Say></Gather><Redirect method="POST">http://api.test/carriers/twilio/voice/answer?cid=` + id + `&amp;round=1</Redirect>`
	if code != 200 || !strings.Contains(doc, wantMenu) {
		t.Fatalf("answer %d:\n%s\nwant it to contain\n%s", code, doc, wantMenu)
	}
	for _, path := range []string{"answer", "key", "status"} {
		if code, _ := e.twilioPost("/carriers/twilio/voice/"+path+q, url.Values{"CallSid": {"CA1"}, "Digits": {"1"}, "CallStatus": {"completed"}}, true); code != 401 {
			t.Fatalf("forged %s: %d, want 401", path, code)
		}
	}
	// A wrong key: the prompt, then the menu of round 1 (the last: silence hangs up).
	key0 := "/carriers/twilio/voice/key" + q + "&round=0"
	for range 2 { // Twilio retrying: stored and signalled once
		code, doc = e.twilioPost(key0, url.Values{"CallSid": {"CA1"}, "Digits": {"5"}}, false)
		if code != 200 || !strings.Contains(doc, `<Say>Touche inconnue</Say><Gather`) || !strings.Contains(doc, `round=1">`) ||
			!strings.HasSuffix(doc, `</Gather><Hangup/></Response>`) {
			t.Fatalf("wrong key %d: %s", code, doc)
		}
	}
	code, doc = e.twilioPost("/carriers/twilio/voice/key"+q+"&round=1", url.Values{"CallSid": {"CA1"}, "Digits": {"1"}}, false)
	if code != 200 || !strings.HasSuffix(doc, `<Response><Say>Transfert</Say><Dial><Number>+33612345699</Number></Dial></Response>`) {
		t.Fatalf("key 1 %d: %s", code, doc)
	}
	// Silence at the last menu hangs up, and is no event.
	if code, doc = e.twilioPost("/carriers/twilio/voice/key"+q+"&round=1", url.Values{"CallSid": {"CA1"}}, false); code != 200 || !strings.HasSuffix(doc, "<Response><Hangup/></Response>") {
		t.Fatalf("silence %d: %s", code, doc)
	}
	for _, st := range []url.Values{
		{"CallSid": {"CA1"}, "CallStatus": {"queued"}},
		{"CallSid": {"CA1"}, "CallStatus": {"ringing"}},
		{"CallSid": {"CA1"}, "CallStatus": {"in-progress"}, "AnsweredBy": {"human"}},
		{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "CallDuration": {"37"}, "AnsweredBy": {"human"}},
		{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "CallDuration": {"37"}, "AnsweredBy": {"human"}}, // retried
	} {
		if code, _ := e.twilioPost("/carriers/twilio/voice/status"+q, st, false); code != 200 {
			t.Fatalf("status %v: %d", st, code)
		}
	}
	if n := e.countEvents(`SELECT count(*) FROM message_events WHERE message_id = $1 AND portal_id = 42`, id); n != 6 {
		t.Fatalf("%d events stored, want 6 (2 keys, 4 statuses)", n)
	}
	got := e.waitCallEvents(id, 4)
	var seen []string
	for _, ce := range got {
		seen = append(seen, ce.Kind+":"+ce.Status+ce.Key+":"+ce.Action+ce.AnsweredBy)
	}
	want := []string{"key:5:wrong-key", "key:1:transfer", "status:answered:human", "status:completed:human"}
	if !slices.Equal(seen, want) {
		t.Fatalf("signals %v, want %v", seen, want)
	}
	if got[3].DurationSeconds != 37 || got[0].EventID != "CA1:key:0" {
		t.Fatalf("completed %+v, first key %+v", got[3], got[0])
	}
}

func TestVonageVoiceWebhooks(t *testing.T) {
	e, id := newVoiceEnv(t)
	q := "?cid=" + id
	code, ncco := e.vonagePost("/carriers/vonage/voice/answer"+q, `{"uuid":"v-1","conversation_uuid":"CON-1"}`, "vsec")
	want := `[{"action":"talk","bargeIn":true,"language":"fr-FR","text":"Tapez 1, 2 ou 9"},{"action":"input","dtmf":{"maxDigits":1,"submitOnHash":false,"timeOut":5},"eventMethod":"POST","eventUrl":["http://api.test/carriers/vonage/voice/key?cid=` + id + `\u0026round=0"],"type":["dtmf"]}]`
	if code != 200 || ncco != want {
		t.Fatalf("answer %d:\n%s\nwant\n%s", code, ncco, want)
	}
	if code, _ := e.vonagePost("/carriers/vonage/voice/answer"+q, `{"uuid":"v-1"}`, "forged"); code != 401 {
		t.Fatalf("forged: %d, want 401", code)
	}
	code, ncco = e.vonagePost("/carriers/vonage/voice/key"+q+"&round=0", `{"uuid":"v-1","dtmf":{"digits":"9","timed_out":false}}`, "vsec")
	if code != 200 || ncco != `[]` {
		t.Fatalf("key 9 %d: %s", code, ncco)
	}
	code, ncco = e.vonagePost("/carriers/vonage/voice/key"+q+"&round=0", `{"uuid":"v-1","dtmf":{"digits":"","timed_out":true}}`, "vsec")
	if code != 200 || !strings.Contains(ncco, `round=1"]`) {
		t.Fatalf("silence %d: %s", code, ncco)
	}
	for _, body := range []string{`{"uuid":"v-1","status":"started"}`, `{"uuid":"v-1","status":"answered"}`,
		`{"uuid":"v-1","status":"completed","duration":"12"}`, `{"uuid":"v-1","status":"transfer"}`} {
		if code, _ := e.vonagePost("/carriers/vonage/voice/status"+q, body, "vsec"); code != 200 {
			t.Fatalf("event %s: %d", body, code)
		}
	}
	got := e.waitCallEvents(id, 3)
	if len(got) != 3 || got[0].Key != "9" || got[0].Action != voice.ActionUnsubscribe || got[1].Status != voice.StatusAnswered ||
		got[2].Status != voice.StatusCompleted || got[2].DurationSeconds != 12 {
		t.Fatalf("signals %+v", got)
	}
}

// A call without a script is hung up, not left to the carrier's error message.
func TestVoiceAnswerWithoutScript(t *testing.T) {
	e, _ := newVoiceEnv(t)
	code, doc := e.twilioPost("/carriers/twilio/voice/answer?cid="+uuid.NewString(), url.Values{"CallSid": {"CA9"}}, false)
	if code != 200 || !strings.HasSuffix(doc, "<Response><Hangup/></Response>") {
		t.Fatalf("%d %s", code, doc)
	}
}

// handlerBox serves the handler set after its server started.
type handlerBox struct {
	mu sync.Mutex
	h  http.Handler
}

func (b *handlerBox) set(h http.Handler) { b.mu.Lock(); b.h = h; b.mu.Unlock() }

func (b *handlerBox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	h := b.h
	b.mu.Unlock()
	h.ServeHTTP(w, r)
}

package sim_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"smsflow/carrier"
	"smsflow/carrier/sim"
	"smsflow/carrier/twilio"
)

// fakeAPI answers the simulator's voice requests with fixed TwiML, checking their signature.
type fakeAPI struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []url.Values // every request's form, keyed by path in Path
	paths  []string
	forged int
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	full := "http://" + r.Host + r.URL.RequestURI()
	if carrier.VerifyWebhook(f.secret, r.Header.Get(carrier.SignatureHeader), full, body, time.Now()) != nil {
		f.mu.Lock()
		f.forged++
		f.mu.Unlock()
		w.WriteHeader(401)
		return
	}
	form, _ := url.ParseQuery(string(body))
	f.mu.Lock()
	f.got, f.paths = append(f.got, form), append(f.paths, r.URL.Path)
	f.mu.Unlock()
	base := "http://" + r.Host
	switch r.URL.Path {
	case "/answer":
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Gather numDigits="1" action="`+base+`/key?round=0" timeout="5"><Say language="fr-FR">Tapez 1</Say></Gather><Redirect>`+base+`/answer2</Redirect></Response>`)
	case "/answer2":
		io.WriteString(w, `<Response><Gather numDigits="1" action="`+base+`/key?round=1"><Play>https://example.com/menu.mp3</Play></Gather><Hangup/></Response>`)
	case "/key":
		if form.Get("Digits") == "1" {
			io.WriteString(w, `<Response><Say>Transfert</Say><Dial>+33612345699</Dial></Response>`)
			return
		}
		io.WriteString(w, `<Response><Say>Touche inconnue</Say><Redirect>`+base+`/answer2</Redirect></Response>`)
	}
}

func (f *fakeAPI) statuses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for i, p := range f.paths {
		if p == "/status" {
			out = append(out, f.got[i].Get("CallStatus"))
		}
	}
	return out
}

func TestSimulatedCallPressesScriptedKeys(t *testing.T) {
	api := &fakeAPI{t: t, secret: "s3cret"}
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()
	s := sim.New(sim.Options{Delay: 5 * time.Millisecond, WebhookSecret: "s3cret", APIBaseURL: apiSrv.URL})
	defer s.Close()
	simSrv := httptest.NewServer(s)
	defer simSrv.Close()
	// A wrong key, then 1 at the menu offered again; over HTTP as a test harness would.
	resp, err := http.Post(simSrv.URL+"/sim/voice/numbers", "application/json",
		strings.NewReader(`{"number":"+33612345601","answer":"human","keys":[{"key":"5","after":"10ms"},{"key":"1","after":"20ms"}],"talk_seconds":42}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("configure: %v %v", resp, err)
	}
	if err := s.SetVoiceNumber("+33612345602", sim.VoiceNumber{Answer: sim.AnswerBusy}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVoiceNumber("+33612345603", sim.VoiceNumber{Answer: "maybe"}); err == nil {
		t.Fatal("an unknown answer was accepted")
	}
	client := twilio.New(twilio.Options{Name: "sim", BaseURL: simSrv.URL, AccountSID: "ACsimulator", AuthToken: "sim", ReferenceLookup: true})
	place := func(ref, to string) {
		t.Helper()
		r := carrier.CallRequest{AnswerURL: apiSrv.URL + "/answer", StatusURL: apiSrv.URL + "/status"}
		r.ID, r.From, r.To, r.MachineDetection = ref, "+33612345600", to, true
		if _, err := client.PlaceCall(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if _, err := client.PlaceCall(context.Background(), r); err != nil { // a duplicate request
			t.Fatal(err)
		}
	}
	place("call-1", "+33612345601")
	place("call-2", "+33612345602")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := s.WaitCall(ctx, "call-1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != "completed" || c.AnsweredBy != "human" || c.Duration != 42 || c.Requests != 2 ||
		!slices.Equal(c.Pressed, []string{"5", "1"}) || !slices.Equal(c.Transfers, []string{"+33612345699"}) ||
		!slices.Equal(c.Said, []string{"Tapez 1", "Touche inconnue", "play:https://example.com/menu.mp3", "Transfert"}) {
		t.Fatalf("call 1: %+v", c)
	}
	busy, err := s.WaitCall(ctx, "call-2")
	if err != nil || busy.Status != "busy" || len(busy.Said) != 0 {
		t.Fatalf("call 2: %+v %v", busy, err)
	}
	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// Two calls' callbacks, in order per call: initiated, ringing, then in-progress and
	// completed, or busy.
	st := api.statuses()
	for _, want := range []string{"queued", "ringing", "in-progress", "completed", "busy"} {
		if !slices.Contains(st, want) {
			t.Errorf("no %s callback in %v", want, st)
		}
	}
	if api.forged != 0 {
		t.Fatalf("%d requests with a bad signature", api.forged)
	}
	if stats := s.Stats(); stats.Calls != 2 || stats.CallRequests != 4 || stats.KeysPressed != 2 || stats.Transfers != 1 || stats.CallOutcomes["human"] != 1 {
		t.Fatalf("stats %+v", stats)
	}
	// The call is found by our reference, and in Twilio's list by number.
	r := carrier.CallRequest{}
	r.ID, r.From, r.To = "call-1", "+33612345600", "+33612345601"
	if rec, ok, err := client.FindCall(context.Background(), r, time.Now().Add(-time.Minute)); err != nil || !ok || rec.CarrierCallID != c.SID {
		t.Fatalf("FindCall %+v %v %v", rec, ok, err)
	}
	listing := twilio.New(twilio.Options{Name: "sim", BaseURL: simSrv.URL, AccountSID: "ACsimulator", AuthToken: "sim"})
	if rec, ok, err := listing.FindCall(context.Background(), r, time.Now().Add(-time.Minute)); err != nil || !ok || rec.CarrierCallID != c.SID {
		t.Fatalf("FindCall by list %+v %v %v", rec, ok, err)
	}
	if _, ok, err := listing.FindCall(context.Background(), r, time.Now().Add(time.Minute)); err != nil || ok {
		t.Fatalf("FindCall after the call: %v %v", ok, err)
	}
}

func TestVoiceOptions(t *testing.T) {
	o, err := sim.ParseOptions("voice_busy=0.1,voice_no_answer=0.2,voice_machine=0.3,voice_failed=0.05,voice_talk=7")
	if err != nil || o.VoiceBusy != 0.1 || o.VoiceNoAnswer != 0.2 || o.VoiceMachine != 0.3 || o.VoiceFailed != 0.05 || o.VoiceTalkSeconds != 7 {
		t.Fatalf("%+v %v", o, err)
	}
	if _, err := sim.ParseOptions("voice_busy=2"); err == nil {
		t.Fatal("a rate above 1 was accepted")
	}
}

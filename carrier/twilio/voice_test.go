package twilio

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"smsflow/carrier"
	"smsflow/voice"
)

func TestPlaceCallWireFormat(t *testing.T) {
	var form url.Values
	var user, pass, key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/2010-04-01/Accounts/AC1/Calls.json" || r.Method != http.MethodPost {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		b, _ := io.ReadAll(r.Body)
		form, _ = url.ParseQuery(string(b))
		user, pass, _ = r.BasicAuth()
		key = r.Header.Get(IdempotencyHeader)
		switch form.Get("To") {
		case "+15005550001":
			w.WriteHeader(400)
			io.WriteString(w, `{"code":21217,"message":"Phone number does not appear to be valid","status":400}`)
		case "+33612345602":
			w.WriteHeader(503)
		default:
			w.WriteHeader(201)
			io.WriteString(w, `{"sid":"CA123","status":"queued","date_created":"Mon, 02 Mar 2026 10:00:00 +0000"}`)
		}
	}))
	defer srv.Close()
	c := New(Options{BaseURL: srv.URL, AccountSID: "AC1", AuthToken: "tok"})
	r := carrier.CallRequest{AnswerURL: "https://api.example/carriers/twilio/voice/answer?cid=c1", StatusURL: "https://api.example/carriers/twilio/voice/status?cid=c1"}
	r.ID, r.From, r.To, r.MachineDetection, r.RingSeconds = "c1", "+33612345600", "+33612345601", true, 25
	rec, err := c.PlaceCall(context.Background(), r)
	if err != nil || rec.CarrierCallID != "CA123" || rec.Carrier != "twilio" || !rec.PlacedAt.Equal(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v %v", rec, err)
	}
	if user != "AC1" || pass != "tok" || key != "c1" || form.Get("Url") != r.AnswerURL || form.Get("Method") != "POST" ||
		form.Get("StatusCallback") != r.StatusURL || !slices.Equal(form["StatusCallbackEvent"], []string{"initiated", "ringing", "answered", "completed"}) ||
		form.Get("MachineDetection") != "Enable" || form.Get("Timeout") != "25" || form.Get("From") != "+33612345600" {
		t.Fatalf("request %v", form)
	}
	r.To = "+15005550001"
	_, err = c.PlaceCall(context.Background(), r)
	var ce *carrier.Error
	if !errors.As(err, &ce) || ce.Class != carrier.Permanent || !ce.NumberInvalid || ce.Code != "21217" {
		t.Fatalf("invalid number: %v", err)
	}
	r.To = "+33612345602"
	if _, err = c.PlaceCall(context.Background(), r); !errors.Is(err, carrier.ErrUncertain) {
		t.Fatalf("503: %v, want uncertain", err)
	}
}

func TestParseCallStatusAndKey(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	sid, ev, ok := ParseCallStatus(url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "CallDuration": {"31"},
		"AnsweredBy": {"machine_end_beep"}, "SipResponseCode": {"200"}}, now)
	if !ok || sid != "CA1" || ev.EventID != "CA1:completed" || ev.Status != voice.StatusCompleted || ev.AnsweredBy != voice.AnsweredByMachine ||
		ev.DurationSeconds != 31 || ev.Code != "" || ev.Kind != voice.EventStatus {
		t.Fatalf("%s %+v %v", sid, ev, ok)
	}
	_, ev, _ = ParseCallStatus(url.Values{"CallSid": {"CA1"}, "CallStatus": {"busy"}, "SipResponseCode": {"486"}}, now)
	if ev.Status != voice.StatusBusy || ev.Code != "486" {
		t.Fatalf("busy %+v", ev)
	}
	if _, ev, _ = ParseCallStatus(url.Values{"CallSid": {"CA1"}, "CallStatus": {"in-progress"}}, now); ev.Status != voice.StatusAnswered {
		t.Fatalf("in-progress %+v", ev)
	}
	if _, _, ok := ParseCallStatus(url.Values{"CallSid": {"CA1"}, "CallStatus": {"weird"}}, now); ok {
		t.Fatal("an unknown status was read")
	}
	if sid, key, ok := ParseKey(url.Values{"CallSid": {"CA1"}, "Digits": {"3"}}); !ok || sid != "CA1" || key != "3" {
		t.Fatalf("key %s %s %v", sid, key, ok)
	}
}

// The TwiML of an IVR script: every action, a wrong key, the repeats.
func TestTwiMLGolden(t *testing.T) {
	sc := voice.Script{CallID: "c", Opening: voice.Speech{Text: "Press 1 & more", Language: "en-GB", Voice: "Polly.Amy"},
		WrongKey: voice.Speech{AudioURL: "https://cdn.example/wrong.mp3"}, Repeats: 1, Keys: []voice.KeyAction{
			{Key: "1", Action: voice.ActionTransfer, Speech: voice.Speech{Text: "Connecting"}, TransferTo: "+33612345699"},
			{Key: "2", Action: voice.ActionSMS},
			{Key: "3", Action: voice.ActionPlay, Speech: voice.Speech{AudioURL: "https://cdn.example/info.mp3"}},
			{Key: "9", Action: voice.ActionUnsubscribe, Speech: voice.Speech{Text: "Done", Language: "en-GB"}},
		}}
	l := Links{Key: func(r int) string { return "https://api/key?cid=c&round=" + string(rune('0'+r)) },
		Answer: func(r int) string { return "https://api/answer?cid=c&round=" + string(rune('0'+r)) }, CallerID: "+33612345600"}
	const head = `<?xml version="1.0" encoding="UTF-8"?><Response>`
	menu := func(r string) string {
		return `<Gather input="dtmf" numDigits="1" method="POST" timeout="5" action="https://api/key?cid=c&amp;round=` + r + `"><Say language="en-GB" voice="Polly.Amy">Press 1 &amp; more</Say></Gather>`
	}
	press := func(round int, key string) string { s, _ := sc.Press(round, key); return TwiML(s, l) }
	for _, tc := range []struct{ name, got, want string }{
		{"answer", TwiML(sc.Answer(0), l), head + menu("0") + `<Redirect method="POST">https://api/answer?cid=c&amp;round=1</Redirect></Response>`},
		{"last offering", TwiML(sc.Answer(1), l), head + menu("1") + `<Hangup/></Response>`},
		{"transfer", press(0, "1"), head + `<Say>Connecting</Say><Dial callerId="+33612345600"><Number>+33612345699</Number></Dial></Response>`},
		{"sms", press(0, "2"), head + `<Hangup/></Response>`},
		{"play", press(0, "3"), head + `<Play>https://cdn.example/info.mp3</Play><Hangup/></Response>`},
		{"unsubscribe", press(0, "9"), head + `<Say language="en-GB">Done</Say><Hangup/></Response>`},
		{"wrong key", press(0, "5"), head + `<Play>https://cdn.example/wrong.mp3</Play>` + menu("1") + `<Hangup/></Response>`},
		{"wrong key at last", press(1, "5"), head + `<Play>https://cdn.example/wrong.mp3</Play><Hangup/></Response>`},
		{"plain message", TwiML(voice.Script{Opening: voice.Speech{Text: "Hi"}}.Answer(0), l), head + `<Say>Hi</Say><Hangup/></Response>`},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

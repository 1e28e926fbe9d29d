package vonage

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"smsflow/carrier"
	"smsflow/voice"
)

func TestPlaceCallWireFormat(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The application's RS256 token.
		parts := strings.Split(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), ".")
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil || !strings.Contains(string(claims), `"application_id":"app-1"`) {
			w.WriteHeader(401)
			return
		}
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/calls":
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &body)
			if strings.Contains(string(b), "33612345602") {
				w.WriteHeader(400)
				io.WriteString(w, `{"title":"Bad Request","detail":"invalid number","invalid_parameters":[{"name":"to[0].number"}]}`)
				return
			}
			w.WriteHeader(201)
			io.WriteString(w, `{"uuid":"63f61863-4a51-4f6b-86e1-46edebcf9356","status":"started","direction":"outbound","conversation_uuid":"CON-1"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/calls":
			if r.URL.Query().Get("date_start") == "" {
				t.Errorf("list without date_start: %s", r.URL)
			}
			io.WriteString(w, `{"_embedded":{"calls":[{"uuid":"other","to":{"type":"phone","number":"33612345699"},"from":{"type":"phone","number":"33612345600"}},
				{"uuid":"63f61863-4a51-4f6b-86e1-46edebcf9356","to":{"type":"phone","number":"33612345601"},"from":{"type":"phone","number":"33612345600"},"start_time":"2026-03-02T10:00:00.000Z"}]}}`)
		}
	}))
	defer srv.Close()
	c := New(Options{VoiceBaseURL: srv.URL, ApplicationID: "app-1", PrivateKey: pemKey})
	r := carrier.CallRequest{AnswerURL: "https://api.example/carriers/vonage/voice/answer?cid=c1", StatusURL: "https://api.example/carriers/vonage/voice/status?cid=c1"}
	r.ID, r.From, r.To, r.MachineDetection, r.RingSeconds = "c1", "+33612345600", "+33612345601", true, 30
	rec, err := c.PlaceCall(context.Background(), r)
	if err != nil || rec.CarrierCallID != "63f61863-4a51-4f6b-86e1-46edebcf9356" {
		t.Fatalf("%+v %v", rec, err)
	}
	got, _ := json.Marshal(body)
	want := `{"answer_method":"POST","answer_url":["https://api.example/carriers/vonage/voice/answer?cid=c1"],"event_method":"POST","event_url":["https://api.example/carriers/vonage/voice/status?cid=c1"],"from":{"number":"33612345600","type":"phone"},"machine_detection":"continue","ringing_timer":30,"to":[{"number":"33612345601","type":"phone"}]}`
	if string(got) != want {
		t.Fatalf("body\n %s\nwant %s", got, want)
	}
	if found, ok, err := c.FindCall(context.Background(), r, time.Now().Add(-time.Hour)); err != nil || !ok || found.CarrierCallID != rec.CarrierCallID {
		t.Fatalf("FindCall %+v %v %v", found, ok, err)
	}
	r.To = "+33612345602"
	var ce *carrier.Error
	if _, err := c.PlaceCall(context.Background(), r); !errors.As(err, &ce) || ce.Class != carrier.Permanent || !ce.NumberInvalid {
		t.Fatalf("invalid number: %v", err)
	}
	if _, err := New(Options{VoiceBaseURL: srv.URL}).PlaceCall(context.Background(), r); !errors.Is(err, carrier.ErrPermanent) {
		t.Fatalf("without application: %v", err)
	}
}

func TestWebhookJWT(t *testing.T) {
	now := time.Now()
	body := []byte(`{"uuid":"v-1","status":"answered"}`)
	tok := SignWebhookJWT("sec", body, now)
	for _, tc := range []struct {
		name   string
		secret string
		auth   string
		body   []byte
		at     time.Time
		ok     bool
	}{
		{"valid", "sec", "Bearer " + tok, body, now, true},
		{"other secret", "other", "Bearer " + tok, body, now, false},
		{"body changed", "sec", "Bearer " + tok, []byte(`{"uuid":"v-2","status":"answered"}`), now, false},
		{"stale", "sec", "Bearer " + tok, body, now.Add(10 * time.Minute), false},
		{"missing", "sec", "", body, now, false},
		{"no secret", "", "Bearer " + tok, body, now, false},
		{"alg none", "sec", "Bearer " + b64(`{"alg":"none"}`) + "." + strings.Split(tok, ".")[1] + ".", body, now, false},
	} {
		if err := VerifyWebhookJWT(tc.secret, tc.auth, tc.body, tc.at); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestNCCOGolden(t *testing.T) {
	sc := voice.Script{CallID: "c", Opening: voice.Speech{Text: "Tapez 1", Language: "fr-FR", Voice: "2"},
		WrongKey: voice.Speech{Text: "Non"}, Repeats: 1, Keys: []voice.KeyAction{
			{Key: "1", Action: voice.ActionTransfer, Speech: voice.Speech{Text: "Transfert"}, TransferTo: "+33612345699"},
			{Key: "3", Action: voice.ActionPlay, Speech: voice.Speech{AudioURL: "https://cdn.example/info.mp3"}},
		}}
	l := Links{Key: func(r int) string { return "https://api/key?round=" + string(rune('0'+r)) }, CallerID: "+33612345600"}
	menu := func(r string) string {
		return `{"action":"talk","bargeIn":true,"language":"fr-FR","style":2,"text":"Tapez 1"},{"action":"input","dtmf":{"maxDigits":1,"submitOnHash":false,"timeOut":5},"eventMethod":"POST","eventUrl":["https://api/key?round=` + r + `"],"type":["dtmf"]}`
	}
	press := func(round int, key string) string { s, _ := sc.Press(round, key); return string(NCCO(s, l)) }
	for _, tc := range []struct{ name, got, want string }{
		{"answer", string(NCCO(sc.Answer(0), l)), "[" + menu("0") + "]"},
		{"transfer", press(0, "1"), `[{"action":"talk","text":"Transfert"},{"action":"connect","endpoint":[{"number":"33612345699","type":"phone"}],"from":"33612345600"}]`},
		{"play", press(0, "3"), `[{"action":"stream","streamUrl":["https://cdn.example/info.mp3"]}]`},
		{"wrong key", press(0, "8"), `[{"action":"talk","text":"Non"},` + menu("1") + `]`},
		{"wrong key at last", press(1, "8"), `[{"action":"talk","text":"Non"}]`},
		{"silence at last", string(NCCO(sc.Silence(1), l)), `[]`},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseCallEvent(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		params url.Values
		status string
		by     string
		code   string
		dur    int
	}{
		{url.Values{"uuid": {"u"}, "status": {"started"}}, voice.StatusInitiated, "", "", 0},
		{url.Values{"uuid": {"u"}, "status": {"machine"}}, voice.StatusAnswered, voice.AnsweredByMachine, "", 0},
		{url.Values{"uuid": {"u"}, "status": {"completed"}, "duration": {"14"}}, voice.StatusCompleted, "", "", 14},
		{url.Values{"uuid": {"u"}, "status": {"timeout"}}, voice.StatusNoAnswer, "", "timeout", 0},
		{url.Values{"uuid": {"u"}, "status": {"rejected"}, "detail": {"invalid_number"}}, voice.StatusFailed, "", "invalid_number", 0},
	} {
		_, ev, ok := ParseCallEvent(tc.params, now)
		if !ok || ev.Status != tc.status || ev.AnsweredBy != tc.by || ev.Code != tc.code || ev.DurationSeconds != tc.dur {
			t.Errorf("%v: %+v %v", tc.params, ev, ok)
		}
	}
	if id, key, ok := ParseInput(url.Values{"uuid": {"u"}, "dtmf": {`{"digits":"4","timed_out":false}`}}); !ok || id != "u" || key != "4" {
		t.Fatalf("input %s %s %v", id, key, ok)
	}
}

package vonage_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"smsflow/carrier"
	"smsflow/carrier/vonage"
	"smsflow/outcome"
)

// fakeVonage answers POST /sms/json like the SMS API: per-part message entries with a status.
func fakeVonage(t *testing.T, answer func(w http.ResponseWriter, form url.Values)) *vonage.Client {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/sms/json" {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		if r.PostForm.Get("api_key") != "key" || r.PostForm.Get("api_secret") != "secret" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"message-count":"1","messages":[{"status":"4","error-text":"Bad Credentials"}]}`))
			return
		}
		answer(w, r.PostForm)
	}))
	t.Cleanup(srv.Close)
	return vonage.New(vonage.Options{BaseURL: srv.URL, APIKey: "key", APISecret: "secret", HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
}

var m = carrier.Message{ID: "7d1c0f5e-1111-4a4a-9a9a-000000000001", From: "ACME", To: "+447700900000", Text: "Hello é", Encoding: "UCS-2",
	StatusCallbackURL: "https://api.example/carriers/vonage/status"}

func TestSendSuccess(t *testing.T) {
	var got url.Values
	c := fakeVonage(t, func(w http.ResponseWriter, form url.Values) {
		got = form
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"message-count":"2","messages":[
			{"to":"447700900000","message-id":"0A0000000123ABCD1","status":"0","client-ref":"` + form.Get("client-ref") + `"},
			{"to":"447700900000","message-id":"0A0000000123ABCD2","status":"0"}]}`))
	})
	r, err := c.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if r.CarrierMessageID != "0A0000000123ABCD1" || len(r.PartIDs) != 2 || r.Segments != 2 || r.Carrier != "vonage" {
		t.Fatalf("receipt %+v", r)
	}
	if got.Get("client-ref") != m.ID || got.Get("to") != "447700900000" || got.Get("type") != "unicode" || got.Get("callback") != m.StatusCallbackURL {
		t.Fatalf("request %v", got)
	}
}

func TestSendErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
		class  carrier.Class
		code   string
		inv    bool
	}{
		{"barred", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"message-count":"1","messages":[{"status":"7","error-text":"Number barred"}]}`))
		}, carrier.Permanent, "7", false},
		{"deactivated", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"message-count":"1","messages":[{"status":"33","error-text":"Number de-activated"}]}`))
		}, carrier.Permanent, "33", true},
		{"throttled", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"message-count":"1","messages":[{"status":"1","error-text":"Throughput Rate Exceeded"}]}`))
		}, carrier.RateLimited, "1", false},
		{"5xx after the request left", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, carrier.Uncertain, "", false},
		{"timeout", func(w http.ResponseWriter) { time.Sleep(400 * time.Millisecond) }, carrier.Uncertain, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeVonage(t, func(w http.ResponseWriter, _ url.Values) { tc.answer(w) })
			_, err := c.Send(context.Background(), m)
			var ce *carrier.Error
			if !errors.As(err, &ce) || ce.Class != tc.class || ce.Code != tc.code || ce.NumberInvalid != tc.inv {
				t.Fatalf("got %#v", err)
			}
		})
	}
}

// Two parts taken, the third throttled: a Partial error naming the parts taken, not a
// rate-limit to retry (a resend would repeat the parts taken).
func TestSendPartialMultipart(t *testing.T) {
	c := fakeVonage(t, func(w http.ResponseWriter, _ url.Values) {
		_, _ = w.Write([]byte(`{"message-count":"3","messages":[
			{"message-id":"P1","status":"0"},{"message-id":"P2","status":"0"},{"status":"1","error-text":"Throughput Rate Exceeded"}]}`))
	})
	_, err := c.Send(context.Background(), m)
	var ce *carrier.Error
	if !errors.As(err, &ce) || ce.Class != carrier.Partial || !errors.Is(err, carrier.ErrPartial) || ce.Code != "1" {
		t.Fatalf("got %#v, want a partial error with the refusal's code", err)
	}
	if len(ce.PartIDs) != 3 || ce.PartIDs[0] != "P1" || ce.PartIDs[1] != "P2" || ce.PartIDs[2] != "" || ce.RetryAfter != 0 {
		t.Fatalf("parts %q, retry after %v", ce.PartIDs, ce.RetryAfter)
	}
	// Every part refused is the refusal itself.
	c = fakeVonage(t, func(w http.ResponseWriter, _ url.Values) {
		_, _ = w.Write([]byte(`{"message-count":"2","messages":[{"status":"7","error-text":"Number barred"},{"status":"7"}]}`))
	})
	if _, err := c.Send(context.Background(), m); !errors.As(err, &ce) || ce.Class != carrier.Permanent {
		t.Fatalf("all parts refused: %#v", err)
	}
}

func TestSignedWebhooks(t *testing.T) {
	params := url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"0A0000000123ABCD1"},
		"status": {"delivered"}, "err-code": {"0"}, "client-ref": {m.ID}, "timestamp": {"1800000000"}, "text": {"a&b=c"}}
	for _, method := range []string{vonage.MethodMD5Hash, vonage.MethodMD5, vonage.MethodSHA1, vonage.MethodSHA256, vonage.MethodSHA512} {
		p := url.Values{}
		for k, v := range params {
			p[k] = v
		}
		p.Set("sig", vonage.Signature("sigsecret", method, params))
		if !vonage.ValidSignature("sigsecret", method, p) {
			t.Errorf("%s: good signature refused", method)
		}
		p.Set("status", "failed")
		if vonage.ValidSignature("sigsecret", method, p) {
			t.Errorf("%s: forged report accepted", method)
		}
		p.Del("sig")
		if vonage.ValidSignature("sigsecret", method, p) {
			t.Errorf("%s: unsigned report accepted", method)
		}
	}
}

func TestParseStatus(t *testing.T) {
	r, ok := vonage.ParseStatus(url.Values{"messageId": {"X1"}, "status": {"failed"}, "err-code": {"9"}, "client-ref": {"ref"},
		"message-timestamp": {"2026-11-25 10:00:00"}}, time.Now())
	if !ok || r.Status != outcome.ReportUndelivered || !r.Permanent || !r.NumberInvalid || r.MessageID != "ref" ||
		!r.OccurredAt.Equal(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v", r)
	}
	in, ok := vonage.ParseInbound(url.Values{"messageId": {"Y"}, "msisdn": {"447700900001"}, "to": {"447700900000"}, "text": {"STOP"}}, time.Now())
	if !ok || in.From != "+447700900001" || in.Text != "STOP" {
		t.Fatalf("%+v", in)
	}
}

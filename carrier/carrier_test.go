package carrier_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"smsflow/carrier"
)

func TestClassifyReply(t *testing.T) {
	for _, tc := range []struct {
		text        string
		stop, start bool
	}{
		{"STOP", true, false}, {" stop ", true, false}, {"Stop!", true, false}, {"ARRET", true, false},
		{"arrêt", true, false}, {"Baja", true, false}, {"PARAR", true, false}, {"stopp", true, false},
		{"UNSUBSCRIBE", true, false}, {"start", false, true}, {"UNSTOP", false, true},
		{"stop sending me offers", false, false}, {"thanks", false, false}, {"", false, false}, {"STOPPED", false, false},
	} {
		stop, start := carrier.ClassifyReply(tc.text)
		if stop != tc.stop || start != tc.start {
			t.Errorf("ClassifyReply(%q) = %v, %v; want %v, %v", tc.text, stop, start, tc.stop, tc.start)
		}
	}
}

func TestErrorClasses(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &carrier.Error{Carrier: "twilio", Class: carrier.Permanent, Code: "21610", OptedOut: true})
	if !errors.Is(err, carrier.ErrPermanent) || errors.Is(err, carrier.ErrTemporary) || carrier.ClassOf(err) != carrier.Permanent {
		t.Fatalf("permanent error misclassified: %v", err)
	}
	if carrier.ClassOf(errors.New("plain")) != carrier.Temporary || carrier.ClassOf(nil) != 0 {
		t.Fatal("unclassified errors must count as temporary, nil as none")
	}
}

func TestWebhookSignature(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	url, body := "http://localhost:8080/carriers/sim/status?mid=x", []byte("MessageSid=SM1&MessageStatus=sent")
	sig := carrier.SignWebhook("secret", url, body, now)
	if err := carrier.VerifyWebhook("secret", sig, url, body, now.Add(time.Minute)); err != nil {
		t.Fatalf("good signature refused: %v", err)
	}
	for name, tc := range map[string]struct {
		secret, header, url string
		body                []byte
		at                  time.Time
	}{
		"forged body":   {"secret", sig, url, []byte("MessageSid=SM1&MessageStatus=delivered"), now},
		"other url":     {"secret", sig, url + "y", body, now},
		"wrong secret":  {"other", sig, url, body, now},
		"missing":       {"secret", "", url, body, now},
		"stale":         {"secret", sig, url, body, now.Add(carrier.MaxSignatureAge + time.Second)},
		"garbage":       {"secret", "t=abc,v1=zz", url, body, now},
		"no secret set": {"", sig, url, body, now},
	} {
		if err := carrier.VerifyWebhook(tc.secret, tc.header, tc.url, tc.body, tc.at); !errors.Is(err, carrier.ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", name, err)
		}
	}
}

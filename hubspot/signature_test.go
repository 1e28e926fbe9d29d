package hubspot_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"smsflow/hubspot"
)

// TestSignatureVectors checks fixed vectors: v2 is HubSpot's published example; v3 was computed
// from the algorithm.
func TestSignatureVectors(t *testing.T) {
	if got := hubspot.SignV2("yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", "GET", "https://www.example.com/webhook_uri", nil); got != "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e" {
		t.Errorf("v2 = %s", got)
	}
	if got := hubspot.SignV3("test-client-secret", "POST", "https://example.com/hubspot/action", []byte(`{"callbackId":"ap-1"}`), "1700000000000"); got != "ANq6UcO5shNvjkJ3WVN4Gl29ghIdL5EHLECgRjGmlHE=" {
		t.Errorf("v3 = %s", got)
	}
}

func TestVerifyRequest(t *testing.T) {
	const secret, uri = "s3cret", "https://sms.example.com/hubspot/actions/sms?x=1&y=2"
	body := []byte(`{"callbackId":"ap-1"}`)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	v3 := func(secret, uri string, body []byte, at time.Time) http.Header {
		ts := strconv.FormatInt(at.UnixMilli(), 10)
		return hdr(hubspot.HeaderSignatureV3, hubspot.SignV3(secret, "POST", uri, body, ts), hubspot.HeaderTimestamp, ts)
	}
	v2 := func(secret, uri string, body []byte) http.Header {
		return hdr(hubspot.HeaderSignature, hubspot.SignV2(secret, "POST", uri, body), hubspot.HeaderSignatureVersion, "v2")
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		body []byte
		uri  string
		want error
	}{
		{"v3 good", v3(secret, uri, body, now.Add(-time.Minute)), body, uri, nil},
		{"v3 percent-encoded colon in the URI", v3(secret, "https://sms.example.com/hubspot/actions/sms?t=10:00", body, now), body, "https://sms.example.com/hubspot/actions/sms?t=10%3A00", nil},
		{"v2 good", v2(secret, uri, body), body, uri, nil},
		{"v3 wrong secret", v3("other", uri, body, now), body, uri, hubspot.ErrSignatureInvalid},
		{"v3 changed body", v3(secret, uri, body, now), []byte(`{"callbackId":"ap-2"}`), uri, hubspot.ErrSignatureInvalid},
		{"v3 stale", v3(secret, uri, body, now.Add(-6*time.Minute)), body, uri, hubspot.ErrSignatureStale},
		{"v3 from the future", v3(secret, uri, body, now.Add(6*time.Minute)), body, uri, hubspot.ErrSignatureStale},
		{"v3 other URL (http)", v3(secret, "http://sms.example.com/hubspot/actions/sms?x=1&y=2", body, now), body, uri, hubspot.ErrSignatureInvalid},
		{"v3 reordered query", v3(secret, "https://sms.example.com/hubspot/actions/sms?y=2&x=1", body, now), body, uri, hubspot.ErrSignatureInvalid},
		{"v2 wrong secret", v2("other", uri, body), body, uri, hubspot.ErrSignatureInvalid},
		{"v2 changed body", v2(secret, uri, body), []byte(`{}`), uri, hubspot.ErrSignatureInvalid},
		{"v2 other URL", v2(secret, "https://evil.example.com/hubspot/actions/sms?x=1&y=2", body), body, uri, hubspot.ErrSignatureInvalid},
		{"v1 refused", hdr(hubspot.HeaderSignature, hubspot.SignV2(secret, "POST", uri, body), hubspot.HeaderSignatureVersion, "v1"), body, uri, hubspot.ErrSignatureInvalid},
		{"missing", http.Header{}, body, uri, hubspot.ErrSignatureMissing},
		{"v3 without timestamp", hdr(hubspot.HeaderSignatureV3, "abc"), body, uri, hubspot.ErrSignatureStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := hubspot.VerifyRequest(secret, tc.h, "POST", tc.uri, tc.body, now)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("VerifyRequest = %v, want %v", err, tc.want)
			}
		})
	}
	if err := hubspot.VerifyRequest("", v2("", uri, body), "POST", uri, body, now); err == nil {
		t.Fatal("an empty secret must accept nothing")
	}
}

// hdr builds canonical headers from name, value pairs, as a server receives them.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

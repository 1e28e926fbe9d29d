package hubspottest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"smsflow/hubspot/hubspottest"
)

func get(t *testing.T, url, token string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

// TestRateLimitAnswersLikeHubSpot checks that the 429s carry HubSpot's bodies and headers,
// Retry-After only when asked for, and never the daily headers (HubSpot does not send them to
// OAuth callers).
func TestRateLimitAnswersLikeHubSpot(t *testing.T) {
	f := hubspottest.NewServer(t, "id", "secret")
	f.AddToken(1, "tok", 0)
	f.SetObject(1, "contacts", "5", nil)
	u := f.URL + "/crm/v3/objects/contacts/5"
	for _, tc := range []struct{ policy, retryAfter, message string }{
		{"TEN_SECONDLY_ROLLING", "", "You have reached your ten_secondly_rolling limit."},
		{"TEN_SECONDLY_ROLLING", "4", "You have reached your ten_secondly_rolling limit."},
		{"DAILY", "", "You have reached your daily limit."},
		{"SECONDLY", "", "You have reached your secondly limit."},
	} {
		f.Inject(hubspottest.Fault{Status: 429, Policy: tc.policy, RetryAfter: tc.retryAfter})
		resp, body := get(t, u, "tok")
		if resp.StatusCode != 429 || body["message"] != tc.message || body["errorType"] != "RATE_LIMIT" || body["status"] != "error" || body["correlationId"] == "" {
			t.Errorf("%s: %d %v", tc.policy, resp.StatusCode, body)
		}
		if tc.policy != "SECONDLY" && body["policyName"] != tc.policy {
			t.Errorf("%s: policyName %v", tc.policy, body["policyName"])
		}
		if resp.Header.Get("Retry-After") != tc.retryAfter || resp.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "10000" ||
			resp.Header.Get("X-HubSpot-RateLimit-Daily") != "" {
			t.Errorf("%s: headers %v", tc.policy, resp.Header)
		}
	}
	if resp, _ := get(t, u, "tok"); resp.StatusCode != 200 {
		t.Fatalf("after the faults: %d", resp.StatusCode)
	}
	if resp, body := get(t, u, "unknown"); resp.StatusCode != 401 || body["category"] != "INVALID_AUTHENTICATION" {
		t.Fatalf("unknown token: %d %v", resp.StatusCode, body)
	}
}

func TestTokenBucketPerPortal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := hubspottest.NewServer(t, "id", "secret")
	f.Now = func() time.Time { return now }
	f.RateLimit = 3
	f.AddToken(1, "a", 0)
	f.AddToken(2, "b", 0)
	f.SetObject(1, "contacts", "5", nil)
	f.SetObject(2, "contacts", "5", nil)
	var codes []string
	for range 4 {
		resp, _ := get(t, f.URL+"/crm/v3/objects/contacts/5", "a")
		codes = append(codes, resp.Status[:3])
	}
	if strings.Join(codes, ",") != "200,200,200,429" {
		t.Fatalf("portal 1: %v", codes)
	}
	if resp, _ := get(t, f.URL+"/crm/v3/objects/contacts/5", "b"); resp.StatusCode != 200 {
		t.Fatalf("portal 2 shares portal 1's budget: %d", resp.StatusCode)
	}
	now = now.Add(10 * time.Second)
	if resp, _ := get(t, f.URL+"/crm/v3/objects/contacts/5", "a"); resp.StatusCode != 200 {
		t.Fatalf("after the window: %d", resp.StatusCode)
	}
}

func TestExpiredAccessTokenIsRefused(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := hubspottest.NewServer(t, "id", "secret")
	f.Now = func() time.Time { return now }
	f.AddToken(1, "short", time.Minute)
	f.SetObject(1, "contacts", "5", nil)
	if resp, _ := get(t, f.URL+"/crm/v3/objects/contacts/5", "short"); resp.StatusCode != 200 {
		t.Fatalf("fresh: %d", resp.StatusCode)
	}
	now = now.Add(time.Minute)
	if resp, _ := get(t, f.URL+"/crm/v3/objects/contacts/5", "short"); resp.StatusCode != 401 {
		t.Fatalf("expired: %d", resp.StatusCode)
	}
}

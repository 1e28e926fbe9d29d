package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"smsflow/store"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := FromLookup(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.TemporalAddress != "localhost:7233" || c.TemporalNamespace != "default" || c.TemporalTaskQueue != "smsflow" ||
		c.APIAddr != ":8080" || c.Carrier.Primary != "sim" || c.ShutdownTimeout.Seconds() != 15 {
		t.Fatalf("defaults = %+v", c)
	}
}

// A stopping worker waits WORKER_STOP_TIMEOUT for running activities; shorter than one carrier
// call it would cut calls, so it is refused.
func TestWorkerStopTimeout(t *testing.T) {
	c, err := FromLookup(lookup(nil))
	if err != nil || c.WorkerStopTimeout != 30*time.Second {
		t.Fatalf("default = %v, %v; want 30s", c.WorkerStopTimeout, err)
	}
	if c, err := FromLookup(lookup(map[string]string{"WORKER_STOP_TIMEOUT": "45s"})); err != nil || c.WorkerStopTimeout != 45*time.Second {
		t.Fatalf("45s = %v, %v", c.WorkerStopTimeout, err)
	}
	for _, env := range []map[string]string{
		{"WORKER_STOP_TIMEOUT": "5s"}, // the default carrier call is 10 s
		{"WORKER_STOP_TIMEOUT": "20s", "CARRIER_SEND_TIMEOUT": "25s"},
		{"WORKER_STOP_TIMEOUT": "later"},
	} {
		if _, err := FromLookup(lookup(env)); err == nil || !strings.Contains(err.Error(), "WORKER_STOP_TIMEOUT") {
			t.Errorf("%v: error %v, want one naming WORKER_STOP_TIMEOUT", env, err)
		}
	}
}

func TestOverridesAndErrors(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{"PUBLIC_BASE_URL": "https://sms.example.com/", "CARRIER_PRIMARY": "twilio", "CARRIER_SECONDARY": "vonage"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicBaseURL != "https://sms.example.com" || c.Carrier.Primary != "twilio" || c.Carrier.Secondary != "vonage" {
		t.Fatalf("overrides not applied: %+v", c)
	}
	_, err = FromLookup(lookup(map[string]string{"PUBLIC_BASE_URL": "sms.example.com", "CARRIER_PRIMARY": "pigeon", "SHUTDOWN_TIMEOUT": "soon"}))
	if err == nil {
		t.Fatal("want errors for a relative URL, an unknown carrier and a bad duration")
	}
	for _, name := range []string{"PUBLIC_BASE_URL", "CARRIER_PRIMARY", "SHUTDOWN_TIMEOUT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// The README's configuration table must list every variable FromEnv reads.
func TestREADMEListsEveryVariable(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(raw), "| `"+v.Name+"` |") {
			t.Errorf("README.md's configuration table lacks %s", v.Name)
		}
	}
}

func TestLinkTTLAndHTTPLimits(t *testing.T) {
	c, err := FromLookup(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	// store falls back to its own default where LinkTTL is not passed (the in-process stack).
	if c.LinkTTL != 400*24*time.Hour || store.DefaultLinkTTL != 400*24*time.Hour || c.HTTP.MaxBodyBytes != 1<<20 || c.HTTP.ReadHeaderTimeout != 5*time.Second ||
		c.HTTP.DBTimeout != 5*time.Second || c.Env != Production || c.Carrier.WebhookSecret != "" || c.HTTP.TrustedProxies != nil ||
		c.HTTP.LinkPerIP != (RateLimit{PerSecond: 1, Burst: 30}) || c.HTTP.LinkPerCode != (RateLimit{PerSecond: 0.2, Burst: 20}) {
		t.Fatalf("defaults = %+v", c)
	}
	c, err = FromLookup(lookup(map[string]string{"LINK_TTL": "36h", "HTTP_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
		"LINK_LIMIT_PER_CODE": "5, 100"}))
	if err != nil || c.LinkTTL != 36*time.Hour || len(c.HTTP.TrustedProxies) != 2 || c.HTTP.TrustedProxies[1] != "192.168.1.1" ||
		c.HTTP.LinkPerCode != (RateLimit{PerSecond: 5, Burst: 100}) {
		t.Fatalf("overrides = %+v %v", c, err)
	}
	_, err = FromLookup(lookup(map[string]string{"LINK_TTL": "forever", "HTTP_MAX_BODY_BYTES": "-1", "HTTP_READ_TIMEOUT": "0s",
		"SMSFLOW_ENV": "staging", "TEMPORAL_TLS_CERT": "/etc/cert.pem", "HTTP_TRUSTED_PROXIES": "lb.internal",
		"LINK_LIMIT_PER_IP": "30", "LINK_LIMIT_PER_CODE": "0,20"}))
	for _, name := range []string{"LINK_TTL", "HTTP_MAX_BODY_BYTES", "HTTP_READ_TIMEOUT", "SMSFLOW_ENV", "TEMPORAL_TLS_KEY", "HTTP_TRUSTED_PROXIES",
		"LINK_LIMIT_PER_IP", "LINK_LIMIT_PER_CODE"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

func TestCarriers(t *testing.T) {
	c := Config{Carrier: Carrier{Primary: "twilio", Secondary: "twilio"}}
	if got := c.Carriers(); len(got) != 1 || !c.UsesCarrier("twilio") || c.UsesCarrier("sim") {
		t.Fatalf("carriers = %v", got)
	}
	c.Carrier.Secondary = "vonage"
	if !c.UsesCarrier("vonage") || c.UsesCarrier("") {
		t.Fatal("secondary not counted, or the empty name counted")
	}
}

func TestTokenKeysAndPoolSize(t *testing.T) {
	k0 := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	k1 := "bm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm4="
	c, err := FromLookup(lookup(map[string]string{"TOKEN_ENCRYPTION_KEY": k0}))
	if err != nil || c.HubSpot.TokenKeyring() != k0 || c.DatabaseMaxConns != 0 {
		t.Fatalf("one key: %q, pool %d, %v", c.HubSpot.TokenKeyring(), c.DatabaseMaxConns, err)
	}
	c, err = FromLookup(lookup(map[string]string{"TOKEN_ENCRYPTION_KEYS": "2:" + k1, "TOKEN_ENCRYPTION_KEY": k0, "DATABASE_MAX_CONNS": "40"}))
	if err != nil || c.HubSpot.TokenKeyring() != "2:"+k1+",0:"+k0 || c.DatabaseMaxConns != 40 {
		t.Fatalf("keyring %q, pool %d, %v", c.HubSpot.TokenKeyring(), c.DatabaseMaxConns, err)
	}
	// The keyring reads in the token store: newest first, old tokens by their id.
	tokens, err := store.NewTokens(nil, c.HubSpot.TokenKeyring())
	if err != nil || tokens.CurrentKeyID() != "2" {
		t.Fatalf("NewTokens(keyring): %v", err)
	}
	_, err = FromLookup(lookup(map[string]string{"TOKEN_ENCRYPTION_KEYS": "2:" + k1 + ",2:" + k0, "DATABASE_MAX_CONNS": "none"}))
	for _, name := range []string{"TOKEN_ENCRYPTION_KEYS", "DATABASE_MAX_CONNS"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
	if err != nil && strings.Contains(err.Error(), k1) {
		t.Errorf("the error shows a key: %v", err)
	}
	if _, err := FromLookup(lookup(map[string]string{"TOKEN_ENCRYPTION_KEYS": k1})); err == nil || !strings.Contains(err.Error(), "id:key") {
		t.Errorf("a key without its id: %v", err)
	}
}

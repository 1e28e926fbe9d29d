package config

import (
	"os"
	"strings"
	"testing"
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

package main

import (
	"log/slog"
	"strings"
	"testing"
)

// Started in production with the development stack's secrets, the API refuses before it listens,
// naming the variables.
func TestRefusesDevelopmentSecrets(t *testing.T) {
	for k, v := range map[string]string{
		"SMSFLOW_ENV": "", "PUBLIC_BASE_URL": "https://sms.example.com", "PHONE_HASH_KEY": "smsflow-dev-phone-hash-key",
		"TOKEN_ENCRYPTION_KEY": "c21zZmxvdy1kZXYta2V5LW5vdC1mb3ItcHJvZHVjdCE=", "HUBSPOT_CLIENT_SECRET": "smsflow-dev-secret",
		"CARRIER_PRIMARY": "sim", "CARRIER_WEBHOOK_SECRET": "", "API_ADDR": "127.0.0.1:0",
	} {
		t.Setenv(k, v)
	}
	err := run(slog.New(slog.DiscardHandler))
	for _, name := range []string{"PHONE_HASH_KEY", "TOKEN_ENCRYPTION_KEY", "HUBSPOT_CLIENT_SECRET", "CARRIER_WEBHOOK_SECRET"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("run() = %v, want a refusal naming %s", err, name)
		}
	}
}

package config

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"smsflow/payloadcodec/codectest"
)

// production is a configuration a real deployment could start with.
func production() map[string]string {
	return map[string]string{
		"PUBLIC_BASE_URL":        "https://sms.example.com",
		"PHONE_HASH_KEY":         "k2P8q1fW0vX7zL5nR3tY9uB4",
		"TOKEN_ENCRYPTION_KEY":   "q0bWl6mV1xq5fO2J8u3WmZ4yq1T0n9c8b7a6Z5Y4X3w=",
		"HUBSPOT_CLIENT_SECRET":  "6a1f3d0e-7c1b-4b4a-9a55-0d2b7f3e9c11",
		"CARRIER_PRIMARY":        "sim",
		"CARRIER_WEBHOOK_SECRET": "Zr8wP3kQ7mN2vB6xT1yU5iO9",
		"PAYLOAD_KEYS":           "2026-11:nZ3vX8kq0Lr5tW2yB7mC4pF9sH1jK6dG0aE3uI8oQ5c=",
	}
}

func checked(t *testing.T, env map[string]string) error {
	t.Helper()
	c, err := FromLookup(lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	return c.CheckSecrets()
}

func TestCheckSecretsAcceptsOwnSecrets(t *testing.T) {
	if err := checked(t, production()); err != nil {
		t.Fatalf("a production configuration with its own secrets: %v", err)
	}
}

// Started with the values published for docker compose, production refuses, naming each variable.
func TestCheckSecretsRefusesDevelopmentValues(t *testing.T) {
	env := composeEnv(t)
	delete(env, "SMSFLOW_ENV")
	env["PUBLIC_BASE_URL"] = "https://sms.example.com"
	err := checked(t, env)
	if err == nil {
		t.Fatal("production started with docker compose's secrets")
	}
	for _, name := range []string{"PHONE_HASH_KEY", "TOKEN_ENCRYPTION_KEY", "HUBSPOT_CLIENT_SECRET", "HUBSPOT_DEVELOPER_API_KEY", "CARRIER_WEBHOOK_SECRET"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	for _, v := range DevSecrets {
		if strings.Contains(err.Error(), v) {
			t.Errorf("error %q shows the secret value %q", err, v)
		}
	}
	// The same values are fine where development is said.
	env["SMSFLOW_ENV"] = Development
	env["PUBLIC_BASE_URL"] = "http://localhost:8080"
	if err := checked(t, env); err != nil {
		t.Fatalf("development refused its own values: %v", err)
	}
}

func TestCheckSecretsCases(t *testing.T) {
	devKeyHex := hex.EncodeToString([]byte("smsflow-dev-key-not-for-product!"))
	for _, tc := range []struct {
		name string
		set  map[string]string
		drop []string
		want []string // variables the error names
	}{
		{"missing required", nil, []string{"PHONE_HASH_KEY", "TOKEN_ENCRYPTION_KEY", "HUBSPOT_CLIENT_SECRET", "CARRIER_WEBHOOK_SECRET", "PAYLOAD_KEYS"},
			[]string{"PHONE_HASH_KEY", "TOKEN_ENCRYPTION_KEY", "HUBSPOT_CLIENT_SECRET", "CARRIER_WEBHOOK_SECRET", "PAYLOAD_KEYS"}},
		{"dev payload keys", map[string]string{"PAYLOAD_KEYS": DevPayloadKeys}, nil, []string{"PAYLOAD_KEYS"}},
		{"test payload key kept for rotation", map[string]string{"PAYLOAD_KEYS": "new:nZ3vX8kq0Lr5tW2yB7mC4pF9sH1jK6dG0aE3uI8oQ5c=,old:" +
			strings.TrimPrefix(codectest.Keys, "test:")}, nil, []string{"PAYLOAD_KEYS"}},
		{"dev codec token", map[string]string{"CODEC_SERVER_TOKEN": "smsflow-dev-codec-token"}, nil, []string{"CODEC_SERVER_TOKEN"}},
		{"dev token key in hex", map[string]string{"TOKEN_ENCRYPTION_KEY": devKeyHex}, nil, []string{"TOKEN_ENCRYPTION_KEY"}},
		{"harness secret", map[string]string{"HUBSPOT_CLIENT_SECRET": "harness-client-secret"}, nil, []string{"HUBSPOT_CLIENT_SECRET"}},
		{"short own key", map[string]string{"PHONE_HASH_KEY": "short"}, nil, []string{"PHONE_HASH_KEY"}},
		{"twilio without token", map[string]string{"CARRIER_SECONDARY": "twilio"}, nil, []string{"TWILIO_AUTH_TOKEN"}},
		{"vonage without secret", map[string]string{"CARRIER_PRIMARY": "vonage"}, []string{"CARRIER_WEBHOOK_SECRET"},
			[]string{"VONAGE_API_SECRET", "VONAGE_SIGNATURE_SECRET"}},
		{"dev value as a Temporal API key", map[string]string{"TEMPORAL_API_KEY": "dev-webhook-secret"}, nil, []string{"TEMPORAL_API_KEY"}},
		{"plain http public URL", map[string]string{"PUBLIC_BASE_URL": "http://sms.example.com"}, nil, []string{"PUBLIC_BASE_URL"}},
		{"dev key in the keyring", map[string]string{"TOKEN_ENCRYPTION_KEYS": "2:bm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm4=,1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
			nil, []string{"TOKEN_ENCRYPTION_KEYS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := production()
			for k, v := range tc.set {
				env[k] = v
			}
			for _, k := range tc.drop {
				delete(env, k)
			}
			err := checked(t, env)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, name := range tc.want {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
		})
	}
	// A keyring stands for TOKEN_ENCRYPTION_KEY.
	env := production()
	delete(env, "TOKEN_ENCRYPTION_KEY")
	env["TOKEN_ENCRYPTION_KEYS"] = "2:bm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm4=,0:q0bWl6mV1xq5fO2J8u3WmZ4yq1T0n9c8b7a6Z5Y4X3w="
	if err := checked(t, env); err != nil {
		t.Fatalf("a keyring without TOKEN_ENCRYPTION_KEY: %v", err)
	}
	// The simulator's secret is not required when the simulator is not a carrier.
	env = production()
	env["CARRIER_PRIMARY"], env["TWILIO_AUTH_TOKEN"] = "twilio", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
	delete(env, "CARRIER_WEBHOOK_SECRET")
	if err := checked(t, env); err != nil {
		t.Fatalf("twilio only, without the simulator's secret: %v", err)
	}
}

// No secret variable has a default: a deployment that forgets one cannot run on a published value.
func TestSecretsHaveNoDefault(t *testing.T) {
	names := map[string]bool{}
	for _, s := range (Config{}).secrets() {
		names[s.name] = true
	}
	for _, v := range Vars {
		if names[v.Name] && v.Default != "" {
			t.Errorf("%s has the default %q", v.Name, v.Default)
		}
		delete(names, v.Name)
	}
	for name := range names {
		t.Errorf("secret %s is not in Vars", name)
	}
}

var (
	composeLine = regexp.MustCompile(`(?m)^\s+([A-Z_]+):\s*"?([^"\s]+)"?\s*$`)
	goPair      = regexp.MustCompile(`\{"([A-Z_]+)",\s*"([^"]+)"\}`)
)

func composeEnv(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	// Only the shared block of smsflow's services.
	block, _, _ := strings.Cut(string(raw), "\nservices:")
	env := map[string]string{}
	for _, m := range composeLine.FindAllStringSubmatch(block, -1) {
		env[m[1]] = m[2]
	}
	return env
}

// Every secret that docker compose and `make run` set is in DevSecrets, and both say development.
func TestDevSecretsCoverTheDevelopmentStacks(t *testing.T) {
	secretNames := map[string]bool{}
	for _, s := range (Config{}).secrets() {
		secretNames[s.name] = true
	}
	stacks := map[string]map[string]string{"docker-compose.yml": composeEnv(t), "devstack": {}}
	files, _ := filepath.Glob("../internal/devstack/*.go")
	if len(files) == 0 {
		t.Fatal("no internal/devstack/*.go: where does make run set its environment now?")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goPair.FindAllStringSubmatch(string(raw), -1) {
			stacks["devstack"][m[1]] = m[2]
		}
	}
	for stack, env := range stacks {
		if env["SMSFLOW_ENV"] != Development {
			t.Errorf("%s does not set SMSFLOW_ENV=%s", stack, Development)
		}
		found := 0
		for name, v := range env {
			if !secretNames[name] {
				continue
			}
			found++
			if !IsDevSecret(v) {
				t.Errorf("%s sets %s to a value missing from config.DevSecrets", stack, name)
			}
		}
		if found < 4 {
			t.Errorf("%s: found %d secrets, want the development stack's (did its format change?)", stack, found)
		}
	}
}

// PAYLOAD_KEYS: required outside development; in development the published key stands in; a
// malformed value is refused where it is read.
func TestPayloadKeys(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{"SMSFLOW_ENV": Development}))
	if err != nil || c.PayloadKeys != DevPayloadKeys {
		t.Fatalf("development without PAYLOAD_KEYS: %q %v", c.PayloadKeys, err)
	}
	c, err = FromLookup(lookup(map[string]string{}))
	if err != nil || c.PayloadKeys != "" {
		t.Fatalf("production without PAYLOAD_KEYS: %q %v", c.PayloadKeys, err)
	}
	for _, bad := range []string{"nokey", "a:notbase64!", "a:c2hvcnQ=", "a:" + strings.TrimPrefix(DevPayloadKeys, "dev:") + ",a:" + strings.TrimPrefix(DevPayloadKeys, "dev:")} {
		_, err := FromLookup(lookup(map[string]string{"PAYLOAD_KEYS": bad}))
		if err == nil || !strings.Contains(err.Error(), "PAYLOAD_KEYS") {
			t.Errorf("PAYLOAD_KEYS=%q: %v", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(DevPayloadKeys, "dev:")) {
			t.Errorf("the error quotes the key: %v", err)
		}
	}
	if !IsDevSecret(codectest.Keys) {
		t.Error("the tests' payload key is not in DevSecrets")
	}
}

// The codec server needs its token everywhere and refuses published values outside development.
func TestCheckCodecServer(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string // variables the error names; none: accepted
	}{
		{map[string]string{"SMSFLOW_ENV": Development, "CODEC_SERVER_TOKEN": "smsflow-dev-codec-token"}, nil},
		{map[string]string{"SMSFLOW_ENV": Development}, []string{"CODEC_SERVER_TOKEN"}},
		{map[string]string{"CODEC_SERVER_TOKEN": "smsflow-dev-codec-token", "PAYLOAD_KEYS": DevPayloadKeys}, []string{"CODEC_SERVER_TOKEN", "PAYLOAD_KEYS"}},
		{map[string]string{"CODEC_SERVER_TOKEN": "Hq2LmV9xT4kR7bN1"}, []string{"PAYLOAD_KEYS"}},
		{map[string]string{"CODEC_SERVER_TOKEN": "short", "PAYLOAD_KEYS": production()["PAYLOAD_KEYS"]}, []string{"CODEC_SERVER_TOKEN"}},
		{map[string]string{"CODEC_SERVER_TOKEN": "Hq2LmV9xT4kR7bN1", "PAYLOAD_KEYS": production()["PAYLOAD_KEYS"]}, nil},
	} {
		c, err := FromLookup(lookup(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		err = c.CheckCodecServer()
		if (err == nil) != (len(tc.want) == 0) {
			t.Errorf("%v: %v", tc.env, err)
			continue
		}
		for _, name := range tc.want {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%v: error %q does not name %s", tc.env, err, name)
			}
		}
	}
	c, _ := FromLookup(lookup(map[string]string{"CODEC_SERVER_ORIGINS": "http://localhost:8233/, https://temporal.example.com"}))
	if strings.Join(c.Codec.Origins, " ") != "http://localhost:8233 https://temporal.example.com" {
		t.Errorf("origins = %q", c.Codec.Origins)
	}
	if _, err := FromLookup(lookup(map[string]string{"CODEC_SERVER_ORIGINS": "localhost:8233/ui"})); err == nil {
		t.Error("an origin with a path accepted")
	}
}

package config

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
		{"missing required", nil, []string{"PHONE_HASH_KEY", "TOKEN_ENCRYPTION_KEY", "HUBSPOT_CLIENT_SECRET", "CARRIER_WEBHOOK_SECRET"},
			[]string{"PHONE_HASH_KEY", "TOKEN_ENCRYPTION_KEY", "HUBSPOT_CLIENT_SECRET", "CARRIER_WEBHOOK_SECRET"}},
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

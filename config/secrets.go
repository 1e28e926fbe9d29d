package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DevSecrets are the secret values published in this repository for local stacks: `make run`
// (devstack), docker compose and the in-process test stack. They are public, so outside
// development CheckSecrets refuses any of them in any secret variable. A test keeps this list in
// step with docker-compose.yml and devstack.
var DevSecrets = []string{
	// make run and docker compose
	"smsflow-dev-secret",
	"c21zZmxvdy1kZXYta2V5LW5vdC1mb3ItcHJvZHVjdCE=", // TOKEN_ENCRYPTION_KEY
	"smsflow-dev-phone-hash-key",
	"smsflow-dev-developer-key",
	"dev-webhook-secret",
	DevPayloadKeys, "c21zZmxvdy1kZXYtcGF5bG9hZHMtbm90LXNlY3JldCE=", // PAYLOAD_KEYS and its key
	"smsflow-dev-codec-token", // CODEC_SERVER_TOKEN
	// the in-process stack of the end-to-end tests (internal/harness)
	"harness-client-secret",
	"harness-webhook-secret",
	"harness-phone-key",
	"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", // TOKEN_ENCRYPTION_KEY
	// the tests' payload key (payloadcodec/codectest.Keys) and its key
	"test:c21zZmxvdy10ZXN0LXBheWxvYWRzLW5vdC1zZWNyZXQ=", "c21zZmxvdy10ZXN0LXBheWxvYWRzLW5vdC1zZWNyZXQ=",
}

// DevPayloadKeys is the published PAYLOAD_KEYS of development (make run, docker compose), also
// what FromLookup takes in development when PAYLOAD_KEYS is unset.
const DevPayloadKeys = "dev:c21zZmxvdy1kZXYtcGF5bG9hZHMtbm90LXNlY3JldCE="

// minSecretLen is the shortest secret of our own (HMAC keys we choose) accepted outside development.
const minSecretLen = 16

// secret is one secret variable as CheckSecrets sees it.
type secret struct {
	name, value string
	required    bool
	// own marks a key we generate ourselves (not one a provider issues), held to minSecretLen.
	own bool
}

func (c Config) secrets() []secret {
	out := []secret{
		{name: "PHONE_HASH_KEY", value: c.PhoneHashKey, required: true, own: true},
		{name: "TOKEN_ENCRYPTION_KEY", value: c.HubSpot.TokenKey, required: c.HubSpot.TokenKeys == ""},
		{name: "TOKEN_ENCRYPTION_KEYS", value: c.HubSpot.TokenKeys},
		{name: "HUBSPOT_CLIENT_SECRET", value: c.HubSpot.ClientSecret, required: true},
		{name: "HUBSPOT_DEVELOPER_API_KEY", value: c.HubSpot.DeveloperAPIKey},
		{name: "CARRIER_WEBHOOK_SECRET", value: c.Carrier.WebhookSecret, required: c.UsesCarrier("sim"), own: true},
		{name: "TWILIO_AUTH_TOKEN", value: c.Carrier.TwilioAuthToken, required: c.UsesCarrier("twilio")},
		{name: "VONAGE_API_SECRET", value: c.Carrier.VonageAPISecret, required: c.UsesCarrier("vonage")},
		{name: "VONAGE_SIGNATURE_SECRET", value: c.Carrier.VonageSignatureSecret, required: c.UsesCarrier("vonage")},
		{name: "TEMPORAL_API_KEY", value: c.Temporal.APIKey},
		{name: "PAYLOAD_KEYS", value: c.PayloadKeys, required: true},
		{name: "CODEC_SERVER_TOKEN", value: c.Codec.Token, own: true},
		{name: "ADMIN_TOKEN", value: c.AdminToken, own: true},
	}
	// Each payload key is a secret of its own.
	for _, e := range tokenKeyEntries(c.PayloadKeys) {
		out = append(out, secret{name: "PAYLOAD_KEYS", value: e[1]})
	}
	// Each key of the keyring is a secret of its own.
	for _, e := range tokenKeyEntries(c.HubSpot.TokenKeys) {
		out = append(out, secret{name: "TOKEN_ENCRYPTION_KEYS", value: e[1]})
	}
	return out
}

// CheckSecrets refuses, outside development, a missing required secret, a secret whose value is
// one of DevSecrets, a key of our own shorter than 16 characters, and a public URL that is not
// https (short and unsubscribe links are capabilities: they must not travel in clear). The API
// and the worker call it before they start; the error names every variable at fault, never its
// value.
func (c Config) CheckSecrets() error {
	if c.Env == Development {
		return nil
	}
	errs := c.checkSecrets(c.secrets())
	if u, err := url.Parse(c.PublicBaseURL); err != nil || u.Scheme != "https" {
		errs = append(errs, fmt.Errorf("PUBLIC_BASE_URL: must be https outside development (SMSFLOW_ENV=%s)", c.Env))
	}
	return refusal(c.Env, errs)
}

// CheckCodecServer is CheckSecrets for cmd/codec-server, which needs only the payload keys and
// its token. The token is required in every environment: a decoding endpoint without one would
// hand anyone the plain payloads.
func (c Config) CheckCodecServer() error {
	var errs []error
	if c.Codec.Token == "" {
		errs = append(errs, errors.New("CODEC_SERVER_TOKEN: must be set"))
	}
	// PAYLOAD_KEYS is required outside development (checkSecrets); development has a default.
	if c.Env != Development {
		var own []secret
		for _, s := range c.secrets() {
			if s.name == "PAYLOAD_KEYS" || s.name == "CODEC_SERVER_TOKEN" {
				own = append(own, s)
			}
		}
		errs = append(errs, c.checkSecrets(own)...)
	}
	return refusal(c.Env, errs)
}

func refusal(env string, errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: refusing to start: %w (set SMSFLOW_ENV=%s only on a development machine)", err, Development)
	}
	return nil
}

// checkSecrets finds, among list, the missing required secrets, the development values and the
// short keys of our own.
func (c Config) checkSecrets(list []secret) []error {
	var errs []error
	for _, s := range list {
		switch {
		case s.value == "" && s.required:
			errs = append(errs, fmt.Errorf("%s: must be set (SMSFLOW_ENV=%s)", s.name, c.Env))
		case s.value == "":
		case IsDevSecret(s.value):
			errs = append(errs, fmt.Errorf("%s: is a published development value; generate a secret of your own", s.name))
		case s.own && len(s.value) < minSecretLen:
			errs = append(errs, fmt.Errorf("%s: shorter than %d characters", s.name, minSecretLen))
		}
	}
	return errs
}

// IsDevSecret reports whether v is one of DevSecrets, also when written in another encoding
// (a base64 key given in hex, or the key's raw bytes).
func IsDevSecret(v string) bool {
	forms := decodings(v)
	for _, dev := range DevSecrets {
		for _, d := range decodings(dev) {
			for _, f := range forms {
				if bytes.Equal(d, f) {
					return true
				}
			}
		}
	}
	return false
}

// decodings returns v's bytes and whatever base64 or hex decodes it to.
func decodings(v string) [][]byte {
	v = strings.TrimSpace(v)
	out := [][]byte{[]byte(v)}
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(v); err == nil && len(b) > 0 {
			out = append(out, b)
		}
	}
	return out
}

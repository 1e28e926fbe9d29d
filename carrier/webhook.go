package carrier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"smsflow/outcome"
	"strconv"
	"strings"
	"time"
)

// StatusReport is one delivery report read from a carrier webhook.
type StatusReport struct {
	// EventID is the report's identity at the carrier: the same report delivered twice has the
	// same EventID, so it is stored once.
	EventID          string
	CarrierMessageID string
	// MessageID is our message id when the report carries it (Vonage client-ref, the mid
	// parameter of our status callback URL); empty otherwise.
	MessageID     string
	Status        outcome.Report
	CarrierStatus string // the carrier's own word
	ErrorCode     string
	ErrorMessage  string
	Permanent     bool
	NumberInvalid bool
	OptedOut      bool
	OccurredAt    time.Time
}

// InboundMessage is one SMS from a recipient (a reply).
type InboundMessage struct {
	EventID          string // the carrier's id of the inbound message
	CarrierMessageID string
	From             string // the recipient who replied, E.164
	To               string // our number, E.164 when numeric
	Text             string
	OccurredAt       time.Time
}

// SignatureHeader carries the simulator's signature of a callback: "t=<unix seconds>,v1=<hex>",
// v1 being HMAC-SHA256(secret, "<t>.<full URL>.<raw body>").
const SignatureHeader = "X-Smsflow-Signature"

// MaxSignatureAge bounds how old a signed simulator callback may be (replay defence).
const MaxSignatureAge = 5 * time.Minute

// SignWebhook signs a simulator callback to fullURL with body at time t.
func SignWebhook(secret, fullURL string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(webhookMAC(secret, ts, fullURL, body))
}

func webhookMAC(secret, ts, fullURL string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + fullURL + "."))
	mac.Write(body)
	return mac.Sum(nil)
}

// ErrBadSignature is returned for a missing, malformed, forged or stale signature.
var ErrBadSignature = errors.New("carrier: bad webhook signature")

// VerifyWebhook checks a SignatureHeader value made by SignWebhook.
func VerifyWebhook(secret, header, fullURL string, body []byte, now time.Time) error {
	if secret == "" || header == "" {
		return ErrBadSignature
	}
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if age := now.Sub(time.Unix(sec, 0)); age > MaxSignatureAge || age < -MaxSignatureAge {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, webhookMAC(secret, ts, fullURL, body)) {
		return ErrBadSignature
	}
	return nil
}

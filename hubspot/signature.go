package hubspot

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request-signature headers HubSpot sends to our endpoints.
const (
	HeaderSignature        = "X-HubSpot-Signature"
	HeaderSignatureVersion = "X-HubSpot-Signature-Version"
	HeaderSignatureV3      = "X-HubSpot-Signature-v3"
	HeaderTimestamp        = "X-HubSpot-Request-Timestamp"
)

// MaxSignatureAge is how old a v3 timestamp may be (HubSpot's documented five minutes).
const MaxSignatureAge = 5 * time.Minute

// Signature errors; all of them mean 401 and nothing started.
var (
	ErrSignatureMissing = errors.New("hubspot: request signature missing")
	ErrSignatureInvalid = errors.New("hubspot: request signature does not match")
	ErrSignatureStale   = errors.New("hubspot: request timestamp too old or malformed")
)

// SignV3 is the v3 signature: base64(HMAC-SHA256(secret, method + uri + body + timestamp)), the
// timestamp in Unix milliseconds as sent in X-HubSpot-Request-Timestamp.
func SignV3(secret, method, uri string, body []byte, timestampMillis string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(method + uri))
	m.Write(body)
	m.Write([]byte(timestampMillis))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignV2 is the v2 signature: hex(SHA-256(secret + method + uri + body)), a plain hash.
func SignV2(secret, method, uri string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(secret + method + uri))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// v3Decoder undoes the percent-encodings HubSpot's request-validation page lists for v3 URIs
// (the exact list is UNCONFIRMED, so VerifyRequest accepts the URI both as sent and decoded).
var v3Decoder = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

// VerifyRequest checks the HubSpot signature of a request whose public URI (scheme, host, path and
// query as HubSpot called it) is uri: v3 when X-HubSpot-Signature-v3 is present, v2 otherwise.
func VerifyRequest(secret string, h http.Header, method, uri string, body []byte, now time.Time) error {
	if secret == "" {
		return ErrSignatureInvalid // an unconfigured secret must never accept anything
	}
	if sig := h.Get(HeaderSignatureV3); sig != "" {
		ts := h.Get(HeaderTimestamp)
		ms, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return ErrSignatureStale
		}
		age := now.Sub(time.UnixMilli(ms))
		if age > MaxSignatureAge || age < -MaxSignatureAge {
			return ErrSignatureStale
		}
		for _, u := range candidates(uri, v3Decoder.Replace(uri)) {
			if equal(sig, SignV3(secret, method, u, body, ts)) {
				return nil
			}
		}
		return ErrSignatureInvalid
	}
	sig := h.Get(HeaderSignature)
	if sig == "" {
		return ErrSignatureMissing
	}
	if v := h.Get(HeaderSignatureVersion); v != "" && !strings.EqualFold(v, "v2") {
		return ErrSignatureInvalid // v1 signs the body only: it does not bind the URL, so we refuse it
	}
	if equal(strings.ToLower(sig), SignV2(secret, method, uri, body)) {
		return nil
	}
	return ErrSignatureInvalid
}

func candidates(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// SignRequest sets the v2 and v3 signature headers on req as HubSpot would, for uri (the public
// URI the receiver rebuilds). Tests and the fake HubSpot use it to play the caller.
func SignRequest(req *http.Request, secret, uri string, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	req.Header.Set(HeaderSignatureV3, SignV3(secret, req.Method, uri, body, ts))
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, SignV2(secret, req.Method, uri, body))
	req.Header.Set(HeaderSignatureVersion, "v2")
}

package vonage

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"smsflow/carrier"
	"smsflow/voice"
)

// The Vonage Voice API: calls are created with POST /v1/calls, authenticated by an RS256 JWT of the
// application; Vonage fetches the call's NCCO from our answer URL and posts its events to our
// event URL, each signed with an HS256 JWT keyed with the account's signature secret.

// endpoint is a Voice API endpoint (phone).
type endpoint struct {
	Type   string `json:"type"`
	Number string `json:"number"`
}

type createCall struct {
	To               []endpoint `json:"to"`
	From             endpoint   `json:"from"`
	AnswerURL        []string   `json:"answer_url"`
	AnswerMethod     string     `json:"answer_method"`
	EventURL         []string   `json:"event_url,omitempty"`
	EventMethod      string     `json:"event_method,omitempty"`
	MachineDetection string     `json:"machine_detection,omitempty"`
	RingingTimer     int        `json:"ringing_timer,omitempty"`
}

// callResource is a call as the Voice API shows it (the fields we read).
type callResource struct {
	UUID      string   `json:"uuid"`
	Status    string   `json:"status"`
	To        endpoint `json:"to"`
	From      endpoint `json:"from"`
	StartTime string   `json:"start_time"`
}

// PlaceCall creates a call whose NCCO is fetched from r.AnswerURL.
func (c *Client) PlaceCall(ctx context.Context, r carrier.CallRequest) (voice.Receipt, error) {
	token, err := c.appJWT(time.Now())
	if err != nil {
		return voice.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Permanent, Message: "voice not configured", Err: err}
	}
	body := createCall{
		To:           []endpoint{{Type: "phone", Number: strings.TrimPrefix(r.To, "+")}},
		From:         endpoint{Type: "phone", Number: strings.TrimPrefix(r.From, "+")},
		AnswerURL:    []string{r.AnswerURL},
		AnswerMethod: http.MethodPost,
		RingingTimer: r.RingSeconds,
	}
	if r.StatusURL != "" {
		body.EventURL, body.EventMethod = []string{r.StatusURL}, http.MethodPost
	}
	if r.MachineDetection {
		body.MachineDetection = "continue"
	}
	raw, _ := json.Marshal(body)
	req, err := carrier.NewSendRequest(ctx, c.opts.VoiceBaseURL+"/v1/calls", string(raw))
	if err != nil {
		return voice.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Permanent, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return voice.Receipt{}, carrier.TransportError(c.Name(), req, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return voice.Receipt{}, carrier.TransportError(c.Name(), req, err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return voice.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.RateLimited, HTTPStatus: resp.StatusCode}
	case resp.StatusCode >= 500:
		return voice.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Uncertain, HTTPStatus: resp.StatusCode}
	case resp.StatusCode/100 != 2:
		var problem struct {
			Title      string `json:"title"`
			Detail     string `json:"detail"`
			InvalidPar []struct {
				Name string `json:"name"`
			} `json:"invalid_parameters"`
		}
		_ = json.Unmarshal(answer, &problem)
		e := &carrier.Error{Carrier: c.Name(), Class: carrier.Permanent, HTTPStatus: resp.StatusCode,
			Message: strings.TrimSpace(problem.Title + ": " + problem.Detail)}
		for _, p := range problem.InvalidPar {
			if p.Name == "to" || strings.HasPrefix(p.Name, "to[") {
				e.NumberInvalid = true
			}
		}
		return voice.Receipt{}, e
	}
	var cr callResource
	if err := json.Unmarshal(answer, &cr); err != nil || cr.UUID == "" {
		return voice.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Uncertain, HTTPStatus: resp.StatusCode,
			Message: "unreadable success answer", Err: err}
	}
	return voice.Receipt{Carrier: c.Name(), CarrierCallID: cr.UUID, PlacedAt: time.Now().UTC()}, nil
}

// FindCall reads the calls started since a time (the Voice API cannot search by our reference)
// and takes the first one from r.From to r.To as ours.
func (c *Client) FindCall(ctx context.Context, r carrier.CallRequest, since time.Time) (voice.Receipt, bool, error) {
	token, err := c.appJWT(time.Now())
	if err != nil {
		return voice.Receipt{}, false, carrier.ErrLookupUnsupported
	}
	q := url.Values{"date_start": {since.UTC().Format(time.RFC3339)}, "page_size": {"100"}, "order": {"asc"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.opts.VoiceBaseURL+"/v1/calls?"+q.Encode(), nil)
	if err != nil {
		return voice.Receipt{}, false, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return voice.Receipt{}, false, &carrier.Error{Carrier: c.Name(), Class: carrier.Temporary, Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		return voice.Receipt{}, false, &carrier.Error{Carrier: c.Name(), Class: carrier.Temporary, HTTPStatus: resp.StatusCode, Message: "lookup failed"}
	}
	var page struct {
		Embedded struct {
			Calls []callResource `json:"calls"`
		} `json:"_embedded"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return voice.Receipt{}, false, fmt.Errorf("vonage: lookup: unreadable answer: %w", err)
	}
	to, from := strings.TrimPrefix(r.To, "+"), strings.TrimPrefix(r.From, "+")
	for _, cl := range page.Embedded.Calls {
		if strings.TrimPrefix(cl.To.Number, "+") == to && strings.TrimPrefix(cl.From.Number, "+") == from {
			at, err := time.Parse(time.RFC3339, cl.StartTime)
			if err != nil {
				at = time.Now()
			}
			return voice.Receipt{Carrier: c.Name(), CarrierCallID: cl.UUID, PlacedAt: at.UTC()}, true, nil
		}
	}
	return voice.Receipt{}, false, nil
}

var keyCache sync.Map // PrivateKey option → *rsa.PrivateKey

// appJWT is the application's RS256 token for the Voice API.
func (c *Client) appJWT(now time.Time) (string, error) {
	if c.opts.ApplicationID == "" || c.opts.PrivateKey == "" {
		return "", errors.New("vonage: VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY are needed to place calls")
	}
	key, err := privateKey(c.opts.PrivateKey)
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims, _ := json.Marshal(map[string]any{"application_id": c.opts.ApplicationID, "iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "jti": hex.EncodeToString(jti)})
	signing := b64(`{"alg":"RS256","typ":"JWT"}`) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func privateKey(opt string) (*rsa.PrivateKey, error) {
	if k, ok := keyCache.Load(opt); ok {
		return k.(*rsa.PrivateKey), nil
	}
	raw := []byte(opt)
	if !strings.Contains(opt, "-----BEGIN") {
		b, err := os.ReadFile(opt)
		if err != nil {
			return nil, fmt.Errorf("vonage: read VONAGE_PRIVATE_KEY: %w", err)
		}
		raw = b
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("vonage: VONAGE_PRIVATE_KEY is not PEM")
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("vonage: VONAGE_PRIVATE_KEY is not an RSA key")
		}
		key = rk
	} else if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		key = k
	} else {
		return nil, fmt.Errorf("vonage: VONAGE_PRIVATE_KEY: %w", err)
	}
	keyCache.Store(opt, key)
	return key, nil
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// MaxJWTAge bounds how old a signed webhook's token may be (replay defence).
const MaxJWTAge = 5 * time.Minute

// ErrBadJWT is returned for a missing, malformed, forged or stale webhook token.
var ErrBadJWT = errors.New("vonage: bad webhook token")

// SignWebhookJWT makes the Authorization token Vonage puts on a signed voice webhook: an HS256 JWT
// keyed with the signature secret, whose payload_hash is the SHA-256 of the body (tests, the
// simulator).
func SignWebhookJWT(secret string, body []byte, now time.Time) string {
	sum := sha256.Sum256(body)
	claims, _ := json.Marshal(map[string]any{"iat": now.Unix(), "iss": "Vonage", "jti": strconv.FormatInt(now.UnixNano(), 36),
		"payload_hash": hex.EncodeToString(sum[:])})
	signing := b64(`{"alg":"HS256","typ":"JWT"}`) + "." + base64.RawURLEncoding.EncodeToString(claims)
	return signing + "." + base64.RawURLEncoding.EncodeToString(hs256(secret, signing))
}

// VerifyWebhookJWT checks the token of a signed voice webhook (the Authorization header, with or
// without "Bearer "): HS256 with the signature secret, issued within MaxJWTAge, and a
// payload_hash matching body when the body is not empty.
// https://developer.vonage.com/en/getting-started/concepts/webhooks#decoding-signed-webhooks
func VerifyWebhookJWT(secret, authorization string, body []byte, now time.Time) error {
	token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(authorization), "Bearer "))
	parts := strings.Split(token, ".")
	if secret == "" || len(parts) != 3 {
		return ErrBadJWT
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if h, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || json.Unmarshal(h, &header) != nil || header.Alg != "HS256" {
		return ErrBadJWT
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmacEqual(sig, hs256(secret, parts[0]+"."+parts[1])) {
		return ErrBadJWT
	}
	var claims struct {
		IAT         int64  `json:"iat"`
		PayloadHash string `json:"payload_hash"`
	}
	c, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(c, &claims) != nil {
		return ErrBadJWT
	}
	if age := now.Sub(time.Unix(claims.IAT, 0)); age > MaxJWTAge || age < -MaxJWTAge {
		return ErrBadJWT
	}
	if len(bytes.TrimSpace(body)) > 0 {
		sum := sha256.Sum256(body)
		if !strings.EqualFold(claims.PayloadHash, hex.EncodeToString(sum[:])) {
			return ErrBadJWT
		}
	}
	return nil
}

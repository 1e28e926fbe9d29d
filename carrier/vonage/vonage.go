// Package vonage is the Vonage SMS API adapter: send (POST /sms/json with client-ref = our message
// id), read delivery receipts and inbound messages, verify signed webhooks.
package vonage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"smsflow/carrier"
	"smsflow/outcome"
)

// Options configure a Client.
type Options struct {
	Name       string // default "vonage"
	BaseURL    string // https://rest.nexmo.com, or a fake's URL
	APIKey     string
	APISecret  string
	HTTPClient *http.Client // default: a client with a 10 s timeout
	// VoiceBaseURL is the Voice API (https://api.nexmo.com); ApplicationID and PrivateKey (PEM, or
	// the path of a PEM file) sign its JWTs. Without them the client places no calls.
	VoiceBaseURL  string
	ApplicationID string
	PrivateKey    string
}

// Client sends SMS through the Vonage SMS API. It has no Lookup: the SMS API cannot find a
// message by client-ref, so an uncertain send stays uncertain (dispatch decides).
type Client struct {
	opts Options
	http *http.Client
}

// New builds a client.
func New(o Options) *Client {
	if o.Name == "" {
		o.Name = "vonage"
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	o.VoiceBaseURL = strings.TrimRight(o.VoiceBaseURL, "/")
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{opts: o, http: hc}
}

// Name is the carrier name.
func (c *Client) Name() string { return c.opts.Name }

// ReportsDeparture: sends are made with carrier.NewSendRequest.
func (c *Client) ReportsDeparture() {}

type sendResponse struct {
	MessageCount string `json:"message-count"`
	Messages     []struct {
		To        string `json:"to"`
		MessageID string `json:"message-id"`
		Status    string `json:"status"`
		ErrorText string `json:"error-text"`
		ClientRef string `json:"client-ref"`
	} `json:"messages"`
}

// Send posts the message. Vonage answers 200 with one entry per part; status "0" is accepted.
func (c *Client) Send(ctx context.Context, m carrier.Message) (carrier.Receipt, error) {
	form := url.Values{
		"api_key":           {c.opts.APIKey},
		"api_secret":        {c.opts.APISecret},
		"from":              {strings.TrimPrefix(m.From, "+")},
		"to":                {strings.TrimPrefix(m.To, "+")},
		"text":              {m.Text},
		"client-ref":        {m.ID},
		"status-report-req": {"1"},
	}
	if m.Unicode() {
		form.Set("type", "unicode")
	}
	if m.StatusCallbackURL != "" {
		form.Set("callback", m.StatusCallbackURL)
	}
	req, err := carrier.NewSendRequest(ctx, c.opts.BaseURL+"/sms/json", form.Encode())
	if err != nil {
		return carrier.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Permanent, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return carrier.Receipt{}, carrier.TransportError(c.Name(), req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return carrier.Receipt{}, carrier.TransportError(c.Name(), req, err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return carrier.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.RateLimited, HTTPStatus: resp.StatusCode}
	case resp.StatusCode >= 500:
		// A server error after the whole request left: the message may have been taken.
		return carrier.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Uncertain, HTTPStatus: resp.StatusCode}
	case resp.StatusCode/100 != 2:
		return carrier.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Permanent, HTTPStatus: resp.StatusCode, Message: strings.TrimSpace(string(body))}
	}
	var sr sendResponse
	if err := json.Unmarshal(body, &sr); err != nil || len(sr.Messages) == 0 {
		return carrier.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Uncertain, HTTPStatus: resp.StatusCode,
			Message: "unreadable success answer", Err: err}
	}
	return c.receipt(sr)
}

// receipt reads the per-part answer: every part taken is a receipt; none taken is the first
// part's refusal; some taken and some refused is a Partial error naming which parts were taken,
// since sending again would repeat them.
func (c *Client) receipt(sr sendResponse) (carrier.Receipt, error) {
	r := carrier.Receipt{Carrier: c.Name(), Status: outcome.ReportQueued, Segments: len(sr.Messages), AcceptedAt: time.Now().UTC()}
	var refused *carrier.Error
	taken := 0
	for _, part := range sr.Messages {
		if part.Status != "0" {
			if refused == nil {
				refused = classifyStatus(c.Name(), part.Status, part.ErrorText)
			}
			r.PartIDs = append(r.PartIDs, "")
			continue
		}
		taken++
		r.PartIDs = append(r.PartIDs, part.MessageID)
		if r.CarrierMessageID == "" {
			r.CarrierMessageID = part.MessageID
		}
	}
	switch {
	case refused == nil:
		return r, nil
	case taken == 0:
		return carrier.Receipt{}, refused
	}
	refused.Class, refused.PartIDs = carrier.Partial, r.PartIDs
	refused.NumberInvalid, refused.OptedOut, refused.RetryAfter = false, false, 0
	refused.Message = fmt.Sprintf("%d of %d parts taken; refused: %s", taken, len(r.PartIDs), refused.Message)
	return carrier.Receipt{}, refused
}

// classifyStatus maps a non-zero SMS API status (https://developer.vonage.com/api-errors/sms).
func classifyStatus(name, status, text string) *carrier.Error {
	e := &carrier.Error{Carrier: name, Code: status, Message: text, Class: carrier.Permanent}
	switch status {
	case "1": // throttled
		e.Class = carrier.RateLimited
	case "5", "10": // internal error, too many binds
		e.Class = carrier.Temporary
	case "9": // partner quota violation: no credit, top-up and retry
		e.Class = carrier.Temporary
	case "7": // number barred
		e.Class = carrier.Permanent
	case "33": // number de-activated
		e.NumberInvalid = true
	}
	return e
}

// MapStatus maps a delivery receipt status to a report kind.
func MapStatus(s string) outcome.Report {
	switch strings.ToLower(s) {
	case "accepted", "buffered":
		return outcome.ReportSent
	case "delivered":
		return outcome.ReportDelivered
	case "expired", "failed":
		return outcome.ReportUndelivered
	case "rejected":
		return outcome.ReportFailed
	}
	return outcome.ReportUnknown
}

// Delivery receipt err-code values after which sending to the number again is pointless.
var (
	permanentErrCodes = map[int]bool{3: true, 4: true, 6: true, 9: true, 11: true, 13: true, 14: true, 50: true, 51: true, 53: true, 54: true}
	invalidErrCodes   = map[int]bool{3: true, 9: true} // absent subscriber permanent, illegal number
)

// ParseStatus reads a delivery receipt (form or JSON parameters flattened into params).
func ParseStatus(params url.Values, now time.Time) (carrier.StatusReport, bool) {
	id := params.Get("messageId")
	status := params.Get("status")
	if id == "" || status == "" {
		return carrier.StatusReport{}, false
	}
	r := carrier.StatusReport{
		CarrierMessageID: id,
		MessageID:        params.Get("client-ref"),
		CarrierStatus:    status,
		Status:           MapStatus(status),
		ErrorCode:        params.Get("err-code"),
		OccurredAt:       now.UTC(),
		EventID:          id + ":" + strings.ToLower(status) + ":" + params.Get("err-code"),
	}
	if code, err := strconv.Atoi(r.ErrorCode); err == nil && code != 0 {
		r.Permanent = permanentErrCodes[code]
		r.NumberInvalid = invalidErrCodes[code]
		r.OptedOut = code == 53 // consent filter
	}
	if t, err := time.Parse("2006-01-02 15:04:05", params.Get("message-timestamp")); err == nil {
		r.OccurredAt = t.UTC()
	}
	return r, true
}

// ParseInbound reads an inbound message.
func ParseInbound(params url.Values, now time.Time) (carrier.InboundMessage, bool) {
	id := params.Get("messageId")
	from := params.Get("msisdn")
	if id == "" || from == "" {
		return carrier.InboundMessage{}, false
	}
	in := carrier.InboundMessage{EventID: id, CarrierMessageID: id, From: e164(from), To: e164(params.Get("to")),
		Text: params.Get("text"), OccurredAt: now.UTC()}
	if t, err := time.Parse("2006-01-02 15:04:05", params.Get("message-timestamp")); err == nil {
		in.OccurredAt = t.UTC()
	}
	return in, true
}

// e164 adds the "+" Vonage leaves out of numeric addresses.
func e164(s string) string {
	if s == "" || strings.HasPrefix(s, "+") {
		return s
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return s // alphanumeric
		}
	}
	return "+" + s
}

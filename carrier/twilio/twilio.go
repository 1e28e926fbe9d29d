// Package twilio is the Twilio Programmable Messaging adapter: send through the REST API
// (form-encoded, basic auth, StatusCallback), read status callbacks and inbound messages, verify
// X-Twilio-Signature. The carrier simulator speaks the same wire format.
package twilio

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
	Name       string // carrier name in receipts and errors: "twilio" or "sim"
	BaseURL    string // https://api.twilio.com, or a fake's URL
	AccountSID string
	AuthToken  string
	HTTPClient *http.Client // default: a client with a 10 s timeout
	// ReferenceLookup enables Lookup through the simulator's GET /sim/messages?ref= extension.
	// Twilio itself cannot find a message by our reference: leave it false for the real API.
	ReferenceLookup bool
}

// Client sends SMS through Twilio's Messages resource.
type Client struct {
	opts Options
	http *http.Client
}

// New builds a client.
func New(o Options) *Client {
	if o.Name == "" {
		o.Name = "twilio"
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
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

// IdempotencyHeader carries our message id on a send. Twilio ignores it; the simulator dedupes on it.
const IdempotencyHeader = "Idempotency-Key"

// message is Twilio's Message resource (the fields we read).
type message struct {
	SID         string `json:"sid"`
	Status      string `json:"status"`
	ErrorCode   *int   `json:"error_code"`
	ErrorMsg    string `json:"error_message"`
	NumSegments string `json:"num_segments"`
	DateCreated string `json:"date_created"`
}

// apiError is Twilio's error body.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// Send creates a Message. Our message id goes in the Idempotency-Key header.
func (c *Client) Send(ctx context.Context, m carrier.Message) (carrier.Receipt, error) {
	form := url.Values{"To": {m.To}, "Body": {m.Text}}
	if strings.HasPrefix(m.From, "MG") {
		form.Set("MessagingServiceSid", m.From)
	} else {
		form.Set("From", m.From)
	}
	if m.StatusCallbackURL != "" {
		form.Set("StatusCallback", m.StatusCallbackURL)
	}
	endpoint := c.opts.BaseURL + "/2010-04-01/Accounts/" + url.PathEscape(c.opts.AccountSID) + "/Messages.json"
	req, err := carrier.NewSendRequest(ctx, endpoint, form.Encode())
	if err != nil {
		return carrier.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Permanent, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(IdempotencyHeader, m.ID)
	req.SetBasicAuth(c.opts.AccountSID, c.opts.AuthToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return carrier.Receipt{}, carrier.TransportError(c.Name(), req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		// The status line arrived but the body did not: the message may exist.
		return carrier.Receipt{}, carrier.TransportError(c.Name(), req, err)
	}
	if resp.StatusCode/100 == 2 {
		var msg message
		if err := json.Unmarshal(body, &msg); err != nil || msg.SID == "" {
			return carrier.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Uncertain, HTTPStatus: resp.StatusCode,
				Message: "unreadable success answer", Err: err}
		}
		return c.receipt(msg), nil
	}
	return carrier.Receipt{}, c.classify(resp, body)
}

func (c *Client) receipt(msg message) carrier.Receipt {
	segs, _ := strconv.Atoi(msg.NumSegments)
	at, err := time.Parse(time.RFC1123Z, msg.DateCreated)
	if err != nil {
		at = time.Now()
	}
	return carrier.Receipt{Carrier: c.Name(), CarrierMessageID: msg.SID, Status: MapStatus(msg.Status), Segments: segs, AcceptedAt: at.UTC()}
}

func (c *Client) classify(resp *http.Response, body []byte) error {
	var ae apiError
	_ = json.Unmarshal(body, &ae)
	e := &carrier.Error{Carrier: c.Name(), HTTPStatus: resp.StatusCode, Message: ae.Message}
	if ae.Code != 0 {
		e.Code = strconv.Itoa(ae.Code)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || ae.Code == 20429 || ae.Code == 14107:
		e.Class = carrier.RateLimited
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(s) * time.Second
		}
	case resp.StatusCode >= 500:
		// A server error came after the whole request left: Twilio (or a proxy in front of it)
		// may have created the message before failing. Never resent blindly; a lookup by
		// reference, where there is one, settles it.
		e.Class = carrier.Uncertain
	default:
		e.Class = carrier.Permanent
		e.NumberInvalid, e.OptedOut = codeFlags(ae.Code)
	}
	return e
}

// Send-time error codes (https://www.twilio.com/docs/api/errors).
const (
	CodeInvalidTo      = 21211 // invalid 'To' phone number
	CodeUnsubscribed   = 21610 // the recipient replied STOP: opted out at Twilio
	CodeToNotMobile    = 21614 // 'To' is not a valid mobile number
	CodeUnknownHandset = 30005 // unknown destination handset: the number is not assigned
	CodeLandline       = 30006 // landline or unreachable carrier
)

func codeFlags(code int) (numberInvalid, optedOut bool) {
	switch code {
	case CodeInvalidTo, CodeToNotMobile, CodeUnknownHandset, CodeLandline:
		return true, false
	case CodeUnsubscribed:
		return false, true
	}
	return false, false
}

// MapStatus maps a Twilio message status to a report kind.
func MapStatus(s string) outcome.Report {
	switch strings.ToLower(s) {
	case "accepted", "scheduled", "queued", "sending":
		return outcome.ReportQueued
	case "sent":
		return outcome.ReportSent
	case "delivered", "read":
		return outcome.ReportDelivered
	case "undelivered", "partially_delivered":
		return outcome.ReportUndelivered
	case "failed", "canceled":
		return outcome.ReportFailed
	}
	return outcome.ReportUnknown
}

// permanentDeliveryCodes are delivery error codes after which sending to the number again is
// pointless (Twilio 30xxx and 21610 in a callback).
var permanentDeliveryCodes = map[int]bool{
	30004: true, // message blocked
	30005: true, // unknown destination handset
	30006: true, // landline or unreachable carrier
	21610: true, // opted out
	21211: true,
	21614: true,
	21612: true, // 'To' not reachable via SMS
	21408: true, // region not enabled
}

// Lookup finds the message sent with our reference. Only the simulator's extension can: against
// Twilio it returns carrier.ErrLookupUnsupported.
func (c *Client) Lookup(ctx context.Context, messageID string) (carrier.Receipt, bool, error) {
	if !c.opts.ReferenceLookup {
		return carrier.Receipt{}, false, carrier.ErrLookupUnsupported
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.opts.BaseURL+"/sim/messages?ref="+url.QueryEscape(messageID), nil)
	if err != nil {
		return carrier.Receipt{}, false, err
	}
	req.SetBasicAuth(c.opts.AccountSID, c.opts.AuthToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return carrier.Receipt{}, false, &carrier.Error{Carrier: c.Name(), Class: carrier.Temporary, Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return carrier.Receipt{}, false, nil
	case resp.StatusCode/100 != 2:
		return carrier.Receipt{}, false, &carrier.Error{Carrier: c.Name(), Class: carrier.Temporary, HTTPStatus: resp.StatusCode, Message: "lookup failed"}
	}
	var msg message
	if err := json.Unmarshal(body, &msg); err != nil || msg.SID == "" {
		return carrier.Receipt{}, false, fmt.Errorf("twilio: lookup %s: unreadable answer: %v", messageID, err)
	}
	return c.receipt(msg), true, nil
}

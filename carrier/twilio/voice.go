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
	"smsflow/voice"
)

// Programmable Voice: calls are created through the Calls resource with our answer URL (TwiML
// served by our API) and a status callback for every step of the call.

// callEvents are the status callback events asked for on every call.
var callEvents = []string{"initiated", "ringing", "answered", "completed"}

// call is Twilio's Call resource (the fields we read).
type call struct {
	SID         string `json:"sid"`
	Status      string `json:"status"`
	To          string `json:"to"`
	From        string `json:"from"`
	DateCreated string `json:"date_created"`
}

// PlaceCall creates a call. Our call id goes in the Idempotency-Key header (the simulator dedupes
// on it) and in the cid parameter of the answer and status URLs.
func (c *Client) PlaceCall(ctx context.Context, r carrier.CallRequest) (voice.Receipt, error) {
	form := url.Values{"To": {r.To}, "From": {r.From}, "Url": {r.AnswerURL}, "Method": {http.MethodPost}}
	if r.StatusURL != "" {
		form.Set("StatusCallback", r.StatusURL)
		form.Set("StatusCallbackMethod", http.MethodPost)
		form["StatusCallbackEvent"] = callEvents
	}
	if r.MachineDetection {
		form.Set("MachineDetection", "Enable")
	}
	if r.RingSeconds > 0 {
		form.Set("Timeout", strconv.Itoa(r.RingSeconds))
	}
	req, err := carrier.NewSendRequest(ctx, c.callsURL(), form.Encode())
	if err != nil {
		return voice.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Permanent, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(IdempotencyHeader, r.ID)
	req.SetBasicAuth(c.opts.AccountSID, c.opts.AuthToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return voice.Receipt{}, carrier.TransportError(c.Name(), req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return voice.Receipt{}, carrier.TransportError(c.Name(), req, err)
	}
	if resp.StatusCode/100 == 2 {
		var cl call
		if err := json.Unmarshal(body, &cl); err != nil || cl.SID == "" {
			return voice.Receipt{}, &carrier.Error{Carrier: c.Name(), Class: carrier.Uncertain, HTTPStatus: resp.StatusCode,
				Message: "unreadable success answer", Err: err}
		}
		return c.callReceipt(cl), nil
	}
	err = c.classify(resp, body)
	if ce, ok := err.(*carrier.Error); ok && ce.Class == carrier.Permanent {
		code, _ := strconv.Atoi(ce.Code)
		ce.NumberInvalid = ce.NumberInvalid || invalidCallCodes[code]
	}
	return voice.Receipt{}, err
}

// invalidCallCodes are Calls API codes saying the number cannot be called at all.
var invalidCallCodes = map[int]bool{
	13223: true, // invalid phone number format
	13224: true, // invalid phone number
	21217: true, // phone number does not appear to be valid
}

func (c *Client) callsURL() string {
	return c.opts.BaseURL + "/2010-04-01/Accounts/" + url.PathEscape(c.opts.AccountSID) + "/Calls.json"
}

func (c *Client) callReceipt(cl call) voice.Receipt {
	at, err := time.Parse(time.RFC1123Z, cl.DateCreated)
	if err != nil {
		at = time.Now()
	}
	return voice.Receipt{Carrier: c.Name(), CarrierCallID: cl.SID, PlacedAt: at.UTC()}
}

// FindCall finds the call placed for r since a time. The simulator finds it by our reference;
// Twilio cannot, so the Calls list is read for calls to r.To from r.From created since then (the
// newest page): a call found there is taken as ours rather than risk placing it twice.
func (c *Client) FindCall(ctx context.Context, r carrier.CallRequest, since time.Time) (voice.Receipt, bool, error) {
	if c.opts.ReferenceLookup {
		var cl call
		found, err := c.getJSON(ctx, c.opts.BaseURL+"/sim/calls?ref="+url.QueryEscape(r.ID), &cl)
		if err != nil || !found || cl.SID == "" {
			return voice.Receipt{}, false, err
		}
		return c.callReceipt(cl), true, nil
	}
	q := url.Values{"To": {r.To}, "From": {r.From}, "PageSize": {"50"}}
	var page struct {
		Calls []call `json:"calls"`
	}
	found, err := c.getJSON(ctx, c.callsURL()+"?"+q.Encode(), &page)
	if err != nil || !found {
		return voice.Receipt{}, false, err
	}
	var best *call
	var bestAt time.Time
	for i, cl := range page.Calls {
		at, err := time.Parse(time.RFC1123Z, cl.DateCreated)
		// Twilio's dates have second precision: a call created in the second of since counts.
		if err != nil || at.Before(since.Truncate(time.Second)) {
			continue
		}
		if best == nil || at.Before(bestAt) {
			best, bestAt = &page.Calls[i], at
		}
	}
	if best == nil {
		return voice.Receipt{}, false, nil
	}
	return c.callReceipt(*best), true, nil
}

// getJSON reads a resource; found is false on 404.
func (c *Client) getJSON(ctx context.Context, u string, v any) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.opts.AccountSID, c.opts.AuthToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return false, &carrier.Error{Carrier: c.Name(), Class: carrier.Temporary, Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	case resp.StatusCode/100 != 2:
		return false, &carrier.Error{Carrier: c.Name(), Class: carrier.Temporary, HTTPStatus: resp.StatusCode, Message: "lookup failed"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return false, fmt.Errorf("twilio: lookup: unreadable answer: %w", err)
	}
	return true, nil
}

// MapCallStatus maps a Twilio CallStatus onto voice.Status*; "" for one it does not know.
func MapCallStatus(s string) string {
	switch strings.ToLower(s) {
	case "queued", "initiated":
		return voice.StatusInitiated
	case "ringing":
		return voice.StatusRinging
	case "in-progress", "answered":
		return voice.StatusAnswered
	case "completed":
		return voice.StatusCompleted
	case "busy":
		return voice.StatusBusy
	case "no-answer":
		return voice.StatusNoAnswer
	case "failed":
		return voice.StatusFailed
	case "canceled":
		return voice.StatusCanceled
	}
	return ""
}

// MapAnsweredBy maps Twilio's AnsweredBy (machine detection) onto voice.AnsweredBy*.
func MapAnsweredBy(s string) string {
	switch {
	case s == "":
		return ""
	case s == "human":
		return voice.AnsweredByHuman
	case strings.HasPrefix(s, "machine"), s == "fax":
		return voice.AnsweredByMachine
	}
	return voice.AnsweredByUnknown
}

// ParseCallStatus reads a call's status callback: the carrier's call id and the event. The
// event's id is the call id and status, so a retried callback is the same event.
func ParseCallStatus(form url.Values, now time.Time) (callSID string, ev voice.CallEvent, ok bool) {
	callSID = form.Get("CallSid")
	status := MapCallStatus(form.Get("CallStatus"))
	if callSID == "" || status == "" {
		return "", voice.CallEvent{}, false
	}
	ev = voice.CallEvent{EventID: callSID + ":" + status, Kind: voice.EventStatus, Status: status,
		AnsweredBy: MapAnsweredBy(form.Get("AnsweredBy")), At: now.UTC()}
	if voice.Final(status) {
		ev.DurationSeconds, _ = strconv.Atoi(form.Get("CallDuration"))
		ev.Code = first(form.Get("ErrorCode"), form.Get("SipResponseCode"))
		if ev.Code == "200" {
			ev.Code = "" // the SIP answer of a call that went well
		}
	}
	if ts, err := time.Parse(time.RFC1123Z, form.Get("Timestamp")); err == nil {
		ev.At = ts.UTC()
	}
	return callSID, ev, true
}

// ParseKey reads a Gather action: the carrier's call id and the key pressed ("" when the menu got
// none).
func ParseKey(form url.Values) (callSID, key string, ok bool) {
	callSID = form.Get("CallSid")
	if callSID == "" {
		return "", "", false
	}
	return callSID, form.Get("Digits"), true
}

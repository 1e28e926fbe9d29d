package activities

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"smsflow/carrier"
	"smsflow/carrier/dispatch"
	"smsflow/compliance"
	"smsflow/outcome"
	"smsflow/render"
	"smsflow/store"
	"smsflow/voice"
)

// callRules are the windows of prospecting calls, apart from the SMS rules.
var callRules = compliance.CallTable()

// PropVoiceCallerID is the portal setting holding its default caller id (E.164).
const PropVoiceCallerID = "voice_caller_id"

// PrepareCallInput is everything PrepareCall needs: the record, the caller id and the script
// as the action wrote it (texts with personalization tokens).
type PrepareCallInput struct {
	Recipient   RecipientInput `json:"Recipient"` // Tokens are filled by PrepareCall from the script
	MessageID   string         `json:"MessageID"`
	PortalID    int64          `json:"PortalID"`
	Caller      string         `json:"Caller"` // the action's caller id; empty: the portal's default caller
	MessageType string         `json:"MessageType"`
	Script      voice.Script   `json:"Script"`
	Now         time.Time      `json:"Now"` // workflow time: the instant the call time is computed from
	// Message is the message log row to create, status PENDING.
	Message StatusEvent `json:"Message"`
}

// PreparedCall is the recorded outcome of PrepareCall.
type PreparedCall struct {
	Settings  Settings  `json:"Settings"`
	Recipient Recipient `json:"Recipient"`
	Caller    string    `json:"Caller"`
	// Script is the call's script with every text personalized for the recipient.
	Script voice.Script `json:"Script"`
	// CallAt is the first instant the call may be placed (the country's call window).
	CallAt       time.Time    `json:"CallAt"`
	Held         bool         `json:"Held"`
	HeldReason   string       `json:"HeldReason"`
	RulesVersion string       `json:"RulesVersion"`
	ErrorCode    outcome.Code `json:"ErrorCode"`
	ErrorMessage string       `json:"ErrorMessage"`
}

// PrepareCall reads the portal's settings, settles the caller id, resolves the recipient (voice
// suppressions included), personalizes every text of the script, checks its audio files and
// computes when the call may be placed, then creates the message log row (PENDING). One local
// activity, recorded once: a changed rule table never changes a running call.
func (a *Activities) PrepareCall(ctx context.Context, in PrepareCallInput) (PreparedCall, error) {
	var out PreparedCall
	portal, err := a.Store.PortalSettingsOf(ctx, in.PortalID)
	if err != nil {
		return PreparedCall{}, err
	}
	out.Settings = a.settingsOf(portal)
	row := in.Message
	row.Status = outcome.Pending
	fail := func(code outcome.Code, message string) (PreparedCall, error) {
		out.ErrorCode, out.ErrorMessage = code, message
		return out, a.recordStatus(ctx, row)
	}
	if out.Caller, out.ErrorCode, out.ErrorMessage, err = a.callerID(ctx, in.PortalID, in.Caller, portal); err != nil {
		return PreparedCall{}, err
	} else if out.ErrorCode != "" {
		return fail(out.ErrorCode, out.ErrorMessage)
	}
	row.Sender = out.Caller
	rin := in.Recipient
	rin.Channel = string(outcome.Voice) // one voice suppression list for messages and interactive calls
	rin.Tokens = scriptTokens(in.Script)
	if out.Recipient, err = a.resolveRecipient(ctx, rin); err != nil {
		return PreparedCall{}, err
	}
	row.Phone, row.Country = out.Recipient.Phone, out.Recipient.Region
	if r := out.Recipient; r.ErrorCode != "" {
		return fail(r.ErrorCode, r.ErrorMessage)
	}
	out.Script = personalizeScript(in.Script, out.Recipient.Tokens)
	row.Text = spoken(out.Script.Opening)
	for _, sp := range speeches(out.Script) {
		if sp.AudioURL == "" {
			continue
		}
		if code, msg := a.checkAudio(ctx, sp.AudioURL); code != "" {
			return fail(code, msg)
		}
	}
	country := out.Recipient.Region
	if country == "" {
		country = in.Recipient.Country
	}
	d, err := a.nextCallTime(in.Now, country, out.Recipient.Timezones, in.MessageType)
	if err != nil {
		if errors.Is(err, compliance.ErrCategory) {
			return fail(outcome.InvalidMessageType, err.Error())
		}
		return fail(outcome.ComplianceError, err.Error())
	}
	out.CallAt, out.Held, out.HeldReason, out.RulesVersion = d.SendAt, d.Held, d.Reason, d.RulesVersion
	if d.Held {
		t := d.SendAt
		row.SendAt = &t
	}
	if err := a.recordStatus(ctx, row); err != nil {
		return out, err
	}
	if d.Held {
		countHold(holdWindow, country, d.SendAt)
	}
	return out, nil
}

// e164Re is a caller id: E.164.
var e164Re = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// callerID settles the number the call comes from: the action's caller id, which must be one of
// the portal's senders, else the portal's default caller (setting voice_caller_id), else its
// default sender when that is a number.
func (a *Activities) callerID(ctx context.Context, portalID int64, given string, portal store.PortalSettings) (string, outcome.Code, string, error) {
	check, err := a.Store.CheckSender(ctx, portalID, given)
	if err != nil {
		return "", "", "", err
	}
	if given != "" {
		if !check.Allowed {
			return "", outcome.SenderNotAllowed, fmt.Sprintf("caller id %q is not one of this HubSpot account's numbers; ask the provider to register it", given), nil
		}
		return given, "", "", nil
	}
	if v, ok := portal.Settings[PropVoiceCallerID].(string); ok && e164Re.MatchString(strings.TrimSpace(v)) {
		return strings.TrimSpace(v), "", "", nil
	}
	if e164Re.MatchString(check.Default) {
		return check.Default, "", "", nil
	}
	return "", outcome.NoCallerID, outcome.NoCallerID.Message(), nil
}

// speeches are every speech of a script: the opening, the wrong-key prompt, each key's.
func speeches(s voice.Script) []voice.Speech {
	out := []voice.Speech{s.Opening, s.WrongKey}
	for _, k := range s.Keys {
		out = append(out, k.Speech)
	}
	return out
}

// scriptTokens are the record properties the script's texts use.
func scriptTokens(s voice.Script) []string {
	seen := map[string]bool{}
	var out []string
	for _, sp := range speeches(s) {
		for _, n := range render.PropertyNames(sp.Text) {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// personalizeScript fills the tokens of every text of a script (a token with no value is dropped).
func personalizeScript(s voice.Script, tokens map[string]string) voice.Script {
	p := func(sp voice.Speech) voice.Speech {
		if sp.Text != "" {
			sp.Text = render.Personalize(render.CompactTokens(sp.Text), tokens)
		}
		return sp
	}
	s.Opening, s.WrongKey = p(s.Opening), p(s.WrongKey)
	keys := make([]voice.KeyAction, len(s.Keys))
	for i, k := range s.Keys {
		k.Speech = p(k.Speech)
		keys[i] = k
	}
	s.Keys = keys
	return s
}

// spoken is what a speech says, for the message log and the timeline.
func spoken(sp voice.Speech) string {
	if sp.AudioURL != "" {
		return "audio: " + sp.AudioURL
	}
	return sp.Text
}

// audioCheckTimeout bounds the check of one audio file.
const audioCheckTimeout = 10 * time.Second

// checkAudio checks, before the call, that an audio file URL is https and serves audio: a HEAD
// request (a GET of the first byte where HEAD is refused) answering 2xx with an audio/* content
// type. It returns a code and message when the file cannot be played.
func (a *Activities) checkAudio(ctx context.Context, raw string) (outcome.Code, string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return outcome.AudioURLInvalid, "the audio file URL must be an https URL"
	}
	hc := a.AudioHTTP
	if hc == nil {
		hc = &http.Client{Timeout: audioCheckTimeout}
	}
	ctx, cancel := context.WithTimeout(ctx, audioCheckTimeout)
	defer cancel()
	resp, err := audioRequest(ctx, hc, http.MethodHead, raw)
	if err == nil && (resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented) {
		resp, err = audioRequest(ctx, hc, http.MethodGet, raw)
	}
	if err != nil {
		return outcome.AudioURLUnreachable, "the audio file could not be fetched: " + rootText(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return outcome.AudioURLUnreachable, fmt.Sprintf("the audio file URL answered HTTP %d", resp.StatusCode)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "audio/") {
		return outcome.AudioURLInvalid, fmt.Sprintf("the audio file URL serves %q, not audio", ct)
	}
	return "", ""
}

func audioRequest(ctx context.Context, hc *http.Client, method, raw string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, raw, nil)
	if err != nil {
		return nil, err
	}
	if method == http.MethodGet {
		req.Header.Set("Range", "bytes=0-0")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

// rootText is the innermost error's text (a URL error names the URL; the cause is enough).
func rootText(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// nextCallTime is the call windows' decision at `at`, on the compliance clock (see nextSendTime).
func (a *Activities) nextCallTime(at time.Time, country string, zones []string, messageType string) (compliance.Decision, error) {
	category, err := compliance.ParseCategory(messageType)
	if err != nil {
		return compliance.Decision{}, err
	}
	clock := a.Config.ComplianceClock
	d, err := callRules.NextSendTime(clock.At(at), compliance.Recipient{Country: country, Timezones: zones}, category)
	d.SendAt = clock.Real(d.SendAt)
	return d, err
}

// PlaceCallInput is one call to place, with what is checked right before it.
type PlaceCallInput struct {
	MessageID   string       `json:"MessageID"`
	PortalID    int64        `json:"PortalID"`
	From        string       `json:"From"`
	To          string       `json:"To"`
	Country     string       `json:"Country"`
	Timezones   []string     `json:"Timezones"`
	MessageType string       `json:"MessageType"`
	Script      voice.Script `json:"Script"`
	RingSeconds int          `json:"RingSeconds"`
}

// PlaceCallResult is the carrier's answer, or why the call was not placed.
type PlaceCallResult struct {
	Carrier       string    `json:"Carrier"`
	CarrierCallID string    `json:"CarrierCallID"`
	PlacedAt      time.Time `json:"PlacedAt"`
	// Uncertain: the call may have been placed and could not be found; it is never placed again.
	Uncertain bool `json:"Uncertain"`
	// DeferUntil: the call window was closed right before the call; nothing was placed.
	DeferUntil    *time.Time   `json:"DeferUntil"`
	DeferReason   string       `json:"DeferReason"`
	ErrorCode     outcome.Code `json:"ErrorCode"`
	ErrorMessage  string       `json:"ErrorMessage"`
	NumberInvalid bool         `json:"NumberInvalid"`
}

// PlaceCall checks, right before the carrier, what may have changed while the call waited — the
// voice suppression list, the portal's connection, the call window — then stores the call's
// script (the carrier's webhooks answer from it) and places the call through Calls, which never
// places a call twice. A call already placed by an earlier attempt of this activity is not
// checked again: its receipt is returned.
func (a *Activities) PlaceCall(ctx context.Context, in PlaceCallInput) (PlaceCallResult, error) {
	if a.Calls == nil {
		return PlaceCallResult{ErrorCode: outcome.ChannelNotAvailable, ErrorMessage: "no carrier places calls in this deployment"}, nil
	}
	placed, err := a.callPlaced(ctx, in.MessageID)
	if err != nil {
		return PlaceCallResult{}, err
	}
	if !placed {
		if res, stop, err := a.checkBeforeCall(ctx, in); err != nil || stop {
			return res, err
		}
		sc := in.Script
		sc.CallID = in.MessageID
		if err := a.Store.SaveCallScript(ctx, in.PortalID, sc); err != nil {
			return PlaceCallResult{}, err
		}
	}
	rec, err := a.Calls.PlaceCall(ctx, voice.Call{ID: in.MessageID, PortalID: in.PortalID, From: in.From, To: in.To,
		MachineDetection: true, RingSeconds: in.RingSeconds})
	if err == nil {
		return PlaceCallResult{Carrier: rec.Carrier, CarrierCallID: rec.CarrierCallID, PlacedAt: rec.PlacedAt}, nil
	}
	var ce *carrier.Error
	switch {
	case errors.Is(err, dispatch.ErrSendUncertain):
		out := PlaceCallResult{Uncertain: true, ErrorCode: outcome.SendUncertain,
			ErrorMessage: "the carrier may have placed the call but did not answer; not placed again to avoid calling twice"}
		if errors.As(err, &ce) {
			out.Carrier = ce.Carrier
		}
		return out, nil
	case errors.As(err, &ce) && ce.Class == carrier.Permanent:
		out := PlaceCallResult{Carrier: ce.Carrier, ErrorCode: outcome.CarrierRejected, ErrorMessage: ce.Error(), NumberInvalid: ce.NumberInvalid}
		if ce.NumberInvalid {
			out.ErrorCode = outcome.NumberNotAssigned
		}
		return out, nil
	case errors.As(err, &ce) && ce.Class == carrier.RateLimited && ce.RetryAfter > 0:
		return PlaceCallResult{}, temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeCarrierRateLimited,
			temporal.ApplicationErrorOptions{NextRetryDelay: ce.RetryAfter, Cause: err})
	case errors.Is(err, dispatch.ErrBreakerOpen):
		return PlaceCallResult{}, temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeCarrierBreakerOpen,
			temporal.ApplicationErrorOptions{Cause: err})
	}
	return PlaceCallResult{}, err
}

// callPlaced says whether a carrier already took the call (an earlier attempt placed it).
func (a *Activities) callPlaced(ctx context.Context, callID string) (bool, error) {
	c, err := a.Store.Call(ctx, callID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && c.CarrierCallID != "", err
}

// checkBeforeCall is what may stop a call right before it is placed; stop reports that res is
// the outcome.
func (a *Activities) checkBeforeCall(ctx context.Context, in PlaceCallInput) (res PlaceCallResult, stop bool, err error) {
	if off, reason, err := a.Store.Suppressed(ctx, in.PortalID, string(outcome.Voice), in.To); err != nil {
		return PlaceCallResult{}, false, err
	} else if off {
		return PlaceCallResult{ErrorCode: outcome.OptedOut, ErrorMessage: "the recipient opted out of calls (" + reason + ")"}, true, nil
	}
	p, err := a.Store.PortalSettingsOf(ctx, in.PortalID)
	if err != nil {
		return PlaceCallResult{}, false, err
	}
	if !p.Connected {
		return PlaceCallResult{ErrorCode: outcome.PortalDisconnected, ErrorMessage: outcome.PortalDisconnectedMessage}, true, nil
	}
	if in.Country == "" || in.MessageType == "" {
		return PlaceCallResult{}, false, nil
	}
	d, err := a.nextCallTime(time.Now(), in.Country, in.Timezones, in.MessageType)
	if err != nil {
		return PlaceCallResult{ErrorCode: outcome.ComplianceError, ErrorMessage: err.Error()}, true, nil
	}
	if d.Held {
		until := d.SendAt
		countHold(holdDispatchWindow, in.Country, until)
		return PlaceCallResult{DeferUntil: &until, DeferReason: d.Reason}, true, nil
	}
	return PlaceCallResult{}, false, nil
}

// MessageStatus is where a message stands in the message log.
type MessageStatus struct {
	Status       outcome.Status `json:"Status"`
	ErrorCode    outcome.Code   `json:"ErrorCode"`
	ErrorMessage string         `json:"ErrorMessage"`
}

// MessageStatuses reads the statuses of messages (the SMS an interactive call started) from the
// message log; a message not logged yet is left out.
func (a *Activities) MessageStatuses(ctx context.Context, ids []string) (map[string]MessageStatus, error) {
	out := make(map[string]MessageStatus, len(ids))
	for _, id := range ids {
		m, err := a.Store.GetMessage(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = MessageStatus{Status: outcome.Status(m.Status), ErrorCode: outcome.Code(m.ErrorCode), ErrorMessage: m.ErrorMessage}
	}
	return out, nil
}

package activities

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"smsflow/compliance"
	"smsflow/encoding"
	"smsflow/phone"
	"smsflow/render"
	"smsflow/store"
)

// ErrPortalDisconnected is what the HubSpot client returns for a portal whose tokens were revoked.
var ErrPortalDisconnected = errors.New("PORTAL_DISCONNECTED")

// The NOT_SENT outcome of a portal that disconnected the app, wherever it is found.
const (
	codeDisconnected = "PORTAL_DISCONNECTED"
	msgDisconnected  = "the HubSpot portal disconnected the app; reconnect it to send"
)

// HubSpot properties smsflow keeps on records (SPEC §3 [F26]); created at install.
const (
	PropOptedOut        = "smsflow_opted_out"
	PropNumberInvalid   = "smsflow_number_invalid"
	PropLastMessageDate = "smsflow_last_message_date"
	PropLastDestination = "smsflow_last_destination"
	PropLastMessageID   = "smsflow_last_message_id"
	PropLastContent     = "smsflow_last_content"
	PropLastStatus      = "smsflow_last_status"
	PropSMSConsent      = "smsflow_sms_consent"
)

// knowsAll says whether the action's payload already holds a phone and every token property, so
// the record need not be read: the phone properties must have a value, the tokens only be present.
func knowsAll(known map[string]string, phones, tokens []string) bool {
	hasPhone := false
	for _, p := range phones {
		if strings.TrimSpace(known[p]) != "" {
			hasPhone = true
			break
		}
	}
	if !hasPhone {
		return false
	}
	for _, t := range tokens {
		if _, ok := known[t]; !ok {
			return false
		}
	}
	return true
}

// Prepare reads the portal's settings, resolves the recipient, renders the text and computes the
// send time, and creates the message log row (PENDING). One activity, recorded once: the history
// stays small and a changed rule table never changes a running message.
func (a *Activities) Prepare(ctx context.Context, in PrepareInput) (Prepared, error) {
	var out Prepared
	var err error
	if out.Settings, err = a.loadSettings(ctx, in.Recipient.PortalID); err != nil {
		return Prepared{}, err
	}
	if out.Recipient, err = a.resolveRecipient(ctx, in.Recipient); err != nil {
		return Prepared{}, err
	}
	row := in.Message
	row.Status = "PENDING"
	row.Phone, row.Country = out.Recipient.Phone, out.Recipient.Region
	if out.Recipient.ErrorCode == "" {
		r := in.Render
		r.Tokens, r.Country, r.Timezones = out.Recipient.Tokens, out.Recipient.Region, out.Recipient.Timezones
		if r.Country == "" {
			r.Country = in.Recipient.Country
		}
		if r.MaxSegments == 0 {
			r.MaxSegments = out.Settings.MaxSegments
		}
		if out.Rendered, err = a.render(ctx, r); err != nil {
			return Prepared{}, err
		}
		if out.Rendered.Text != "" {
			row.Text = out.Rendered.Text
		}
		row.Encoding, row.Segments, row.Characters = out.Rendered.Encoding, out.Rendered.Segments, out.Rendered.Characters
		if !out.Rendered.SendAt.IsZero() {
			t := out.Rendered.SendAt
			row.SendAt = &t
		}
	}
	return out, a.recordStatus(ctx, row)
}

// loadSettings reads the portal's lifecycle settings.
func (a *Activities) loadSettings(ctx context.Context, portalID int64) (Settings, error) {
	p, err := a.Store.PortalSettingsOf(ctx, portalID)
	if err != nil {
		return Settings{}, err
	}
	s := a.Config.Defaults
	if s == (Settings{}) {
		s = DefaultSettings
	}
	durations := map[string]*time.Duration{"delivery_timeout": &s.DeliveryTimeout, "listen_after": &s.ListenAfter, "default_wait": &s.DefaultWait}
	for key, dst := range durations {
		if v, ok := p.Settings[key].(string); ok {
			if d, err := time.ParseDuration(v); err == nil && d > 0 {
				*dst = d
			}
		}
	}
	if v, ok := p.Settings["max_segments"].(float64); ok && v >= 1 {
		s.MaxSegments = int(v)
	}
	return s, nil
}

// resolveRecipient finds the phone of the record (a deal's: its associated contact's, then
// company's), normalises it for the country and checks the suppression list.
func (a *Activities) resolveRecipient(ctx context.Context, in RecipientInput) (Recipient, error) {
	props := phoneProperties(in.PhoneProperty)
	names := append(append([]string{}, props...), in.Tokens...)
	var candidates []struct{ typ, id string }
	if strings.EqualFold(in.ObjectType, "deal") || strings.EqualFold(in.ObjectType, "0-3") {
		for _, to := range []struct{ plural, singular string }{{"contacts", "contact"}, {"companies", "company"}} {
			ids, err := a.HubSpot.AssociatedIDs(ctx, in.PortalID, "deals", in.ObjectID, to.plural)
			if err != nil {
				return hubspotOutcome(err)
			}
			for _, id := range ids {
				candidates = append(candidates, struct{ typ, id string }{to.singular, id})
			}
		}
	} else {
		candidates = append(candidates, struct{ typ, id string }{in.ObjectType, in.ObjectID})
	}
	var raw string
	var from struct{ typ, id string }
	var values map[string]string
	for _, c := range candidates {
		own := c.typ == in.ObjectType && c.id == in.ObjectID // the payload's properties are the enrolled record's
		v, known := in.Known, own && knowsAll(in.Known, props, in.Tokens)
		if !known {
			var err error
			if v, err = a.HubSpot.ReadProperties(ctx, in.PortalID, c.typ, c.id, names); err != nil {
				return hubspotOutcome(err)
			}
		}
		for _, p := range props {
			if strings.TrimSpace(v[p]) != "" {
				raw, from, values = v[p], c, v
				break
			}
		}
		if raw != "" {
			break
		}
	}
	if raw == "" {
		what := "the record"
		if len(candidates) != 1 || candidates[0].typ != in.ObjectType {
			what = "the deal's associated contacts and companies"
		}
		return Recipient{ErrorCode: "NO_PHONE", ErrorMessage: fmt.Sprintf("no phone number in %s (%s)", what, strings.Join(props, ", "))}, nil
	}
	num, err := phone.Parse(raw, in.Country)
	if err != nil {
		var pe *phone.Error
		if errors.As(err, &pe) {
			return Recipient{ErrorCode: pe.Code, ErrorMessage: pe.Error()}, nil
		}
		return Recipient{}, err
	}
	r := Recipient{Phone: num.E164, PhoneHash: PhoneHash(a.Config.PhoneHashKey, num.E164), Region: num.Region, Timezones: num.Timezones,
		ObjectType: from.typ, ObjectID: from.id, Tokens: map[string]string{}}
	for _, k := range in.Tokens {
		r.Tokens[k] = strings.TrimSpace(values[k])
	}
	if off, reason, err := a.Store.Suppressed(ctx, in.PortalID, channelOr(in.Channel), num.E164); err != nil {
		return Recipient{}, err
	} else if off {
		r.ErrorCode, r.ErrorMessage = "OPTED_OUT", "the recipient opted out ("+reason+")"
	}
	return r, nil
}

func phoneProperties(chosen string) []string {
	if chosen = strings.TrimSpace(chosen); chosen != "" {
		return []string{chosen}
	}
	return []string{"mobilephone", "phone"}
}

func channelOr(c string) string {
	if c == "" {
		return "sms"
	}
	return c
}

// PhoneHash is the search-attribute form of a number: a keyed hash (HMAC-SHA256, first 16 hex
// digits), since search attributes are stored in clear and a plain hash of a phone number is
// reversed by trying every number. Operators compute it with `bin/phonehash +33612345678`.
func PhoneHash(key []byte, e164 string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(e164))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// hubspotOutcome turns a disconnected portal into a NOT_SENT outcome; other errors are retried.
func hubspotOutcome(err error) (Recipient, error) {
	if errors.Is(err, ErrPortalDisconnected) {
		return Recipient{ErrorCode: codeDisconnected, ErrorMessage: msgDisconnected}, nil
	}
	return Recipient{}, err
}

// render personalizes the text, makes the tracked and unsubscribe links, appends the STOP mention
// where due, encodes and segments, checks the content rules and computes the send time.
func (a *Activities) render(ctx context.Context, in RenderInput) (Rendered, error) {
	category, err := compliance.ParseCategory(in.MessageType)
	if err != nil {
		return Rendered{ErrorCode: "INVALID_MESSAGE_TYPE", ErrorMessage: err.Error()}, nil
	}
	text := render.Personalize(in.Text, in.Tokens)
	if strings.Contains(text, render.UnsubscribeToken) {
		code, err := a.Store.CreateShortLink(ctx, in.MessageID, in.PortalID, store.LinkUnsubscribe, "")
		if err != nil {
			return Rendered{}, err
		}
		text = strings.ReplaceAll(text, render.UnsubscribeToken, a.Config.PublicBaseURL+"/u/"+code)
	}
	if in.ShortenURLs || len(in.UTM) > 0 {
		replace := map[string]string{}
		for _, link := range render.Links(text) {
			if strings.HasPrefix(link, a.Config.PublicBaseURL+"/") {
				continue // our own unsubscribe link
			}
			target := render.WithUTM(link, in.UTM)
			if !in.ShortenURLs {
				replace[link] = target
				continue
			}
			code, err := a.Store.CreateShortLink(ctx, in.MessageID, in.PortalID, store.LinkRedirect, target)
			if err != nil {
				return Rendered{}, err
			}
			replace[link] = a.Config.PublicBaseURL + "/l/" + code
		}
		text = render.ReplaceLinks(text, replace)
	}
	ccfg := compliance.Config{StopCode: a.Config.StopShortCode, ShortDomains: ownDomains(a.Config.PublicBaseURL)}
	text, _ = compliance.ApplyStop(text, in.Country, category, in.AddStop, ccfg)

	out := Rendered{}
	for _, v := range compliance.Check(text, in.Country, compliance.CheckOptions{Category: category, ShortDomains: ccfg.ShortDomains}) {
		out.Violations = append(out.Violations, Violation{Code: v.Code, Action: string(v.Action), Detail: v.Detail})
		if v.Action == compliance.Block && out.ErrorCode == "" {
			out.ErrorCode, out.ErrorMessage = v.Code, fmt.Sprintf("blocked by the %s rules: %s (%s)", in.Country, v.Code, v.Detail)
		}
	}
	if out.ErrorCode != "" {
		return out, nil
	}
	msg, err := encoding.Encode(text, encoding.Options{AllowUnicode: in.AllowUnicode,
		NationalLanguage: encoding.Language(in.NationalLanguage), MaxSegments: in.MaxSegments})
	if err != nil {
		var ee *encoding.Error
		if errors.As(err, &ee) {
			out.ErrorCode, out.ErrorMessage = string(ee.Code), ee.Message
			return out, nil
		}
		return Rendered{}, err
	}
	out.Text, out.Encoding, out.NationalLanguage = msg.Text, string(msg.Alphabet), string(msg.NationalLanguage())
	out.Segments, out.Characters = msg.Segments(), msg.Characters

	from := in.Now
	if in.SendAt != nil && in.SendAt.After(from) {
		from = *in.SendAt
	}
	shift := a.Config.ComplianceShift
	d, err := compliance.NextSendTime(from.Add(shift), compliance.Recipient{Country: in.Country, Timezones: in.Timezones}, category)
	if err != nil {
		out.ErrorCode, out.ErrorMessage = "COMPLIANCE_ERROR", err.Error()
		return out, nil
	}
	d.SendAt = d.SendAt.Add(-shift)
	out.SendAt, out.Held, out.HeldReason, out.RulesVersion = d.SendAt, d.Held, d.Reason, d.RulesVersion
	if !d.Held && in.SendAt != nil && in.SendAt.After(in.Now) {
		out.HeldReason = "scheduled by the workflow's send_at"
	}
	return out, nil
}

func ownDomains(base string) []string {
	if u, err := url.Parse(base); err == nil && u.Hostname() != "" {
		return []string{u.Hostname()}
	}
	return nil
}

// CheckBeforeDispatch checks, right before the carrier, what may have changed while the message
// waited: the suppression list, consent, the portal's connection and the quotas (counted here).
func (a *Activities) CheckBeforeDispatch(ctx context.Context, in DispatchCheckInput) (DispatchCheck, error) {
	if off, reason, err := a.Store.Suppressed(ctx, in.PortalID, channelOr(in.Channel), in.Phone); err != nil {
		return DispatchCheck{}, err
	} else if off {
		return DispatchCheck{ErrorCode: "OPTED_OUT", ErrorMessage: "the recipient opted out (" + reason + ")"}, nil
	}
	p, err := a.Store.PortalSettingsOf(ctx, in.PortalID)
	if err != nil {
		return DispatchCheck{}, err
	}
	if !p.Connected {
		return DispatchCheck{ErrorCode: codeDisconnected, ErrorMessage: msgDisconnected}, nil
	}
	category, _ := compliance.ParseCategory(in.MessageType)
	if compliance.ConsentRequired(in.Country, category) {
		prop := PropSMSConsent
		if v, ok := p.Settings["consent_property"].(string); ok && v != "" {
			prop = v
		}
		v, err := a.HubSpot.ReadProperties(ctx, in.PortalID, in.ObjectType, in.ObjectID, []string{prop})
		if errors.Is(err, ErrPortalDisconnected) {
			return DispatchCheck{ErrorCode: codeDisconnected, ErrorMessage: msgDisconnected}, nil
		}
		if err != nil {
			return DispatchCheck{}, err
		}
		if b, _ := strconv.ParseBool(strings.TrimSpace(v[prop])); !b && !strings.EqualFold(strings.TrimSpace(v[prop]), "yes") {
			return DispatchCheck{ErrorCode: "CONSENT_MISSING", ErrorMessage: fmt.Sprintf("marketing SMS to %s needs express consent: the record's %s is not true", in.Country, prop)}, nil
		}
	}
	q, err := a.Store.ReserveQuota(ctx, in.MessageID, in.PortalID,
		[]store.QuotaSubject{{Scope: "sender", Subject: in.Sender}, {Scope: "user", Subject: in.SendingUser}}, in.Now)
	if err != nil {
		return DispatchCheck{}, err
	}
	if !q.OK {
		what := fmt.Sprintf("quota of %d messages for %s %q in %s reached", q.Limit, q.Scope, q.Subject, q.Period)
		if q.OnExceed == "defer" {
			next := nextPeriod(in.Now, q.Period)
			return DispatchCheck{DeferUntil: &next, DeferReason: what + "; deferred"}, nil
		}
		return DispatchCheck{ErrorCode: "QUOTA_EXCEEDED", ErrorMessage: what}, nil
	}
	return DispatchCheck{}, nil
}

// nextPeriod is the start (UTC) of the day or month after the one reached.
func nextPeriod(now time.Time, period string) time.Time {
	now = now.UTC()
	if len(period) == len("2006-01") {
		return time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
}

// Dispatch sends through the carrier layer.
func (a *Activities) Dispatch(ctx context.Context, in DispatchInput) (DispatchResult, error) {
	return a.Carrier.Dispatch(ctx, in)
}

// Publish makes one lifecycle step visible (see PublishInput). Every part is idempotent, so a
// retry after a HubSpot rate limit redoes the store writes harmlessly.
func (a *Activities) Publish(ctx context.Context, in PublishInput) error {
	if in.Event != nil {
		if err := a.recordStatus(ctx, *in.Event); err != nil {
			return err
		}
	}
	if in.OptOut != nil {
		if err := a.optOut(ctx, *in.OptOut); err != nil {
			return err
		}
	}
	if in.Event != nil {
		if err := a.syncHubSpot(ctx, *in.Event); err != nil {
			if err := a.keepPermanent(ctx, in.Event.MessageID, "hubspot_sync", err); err != nil {
				return err
			}
		}
	}
	if in.Complete != nil {
		if err := a.completeAction(ctx, *in.Complete); err != nil {
			return a.keepPermanent(ctx, "", "hubspot_complete:"+in.Complete.CallbackID, err)
		}
	}
	return nil
}

// keepPermanent returns err when a retry may fix it. A permanent HubSpot refusal (a 4xx) must not
// fail the message's lifecycle — the SMS is sent — so it is stored as an event of the message,
// where the audit and the operators see it, and the lifecycle goes on.
func (a *Activities) keepPermanent(ctx context.Context, messageID, what string, err error) error {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() {
		return err
	}
	detail, _ := json.Marshal(map[string]string{"error": err.Error()})
	var id *string
	if messageID != "" {
		id = &messageID
	}
	_, serr := a.Store.AddEvent(ctx, store.Event{MessageID: id, Source: "hubspot", SourceEventID: what + ":" + messageID + ":" + app.Type(),
		Kind: "hubspot_error", Status: app.Type(), Detail: detail, OccurredAt: time.Now().UTC()})
	return serr
}

// recordStatus writes the status to the message log and its event (idempotent).
func (a *Activities) recordStatus(ctx context.Context, ev StatusEvent) error {
	m := store.Message{ID: ev.MessageID, PortalID: ev.PortalID, ObjectType: ev.ObjectType, ObjectID: ev.ObjectID,
		Channel: ev.Channel, Phone: ev.Phone, Country: ev.Country, Sender: ev.Sender, SendingUser: ev.SendingUser,
		Campaign: ev.Campaign, MessageType: ev.MessageType, Text: ev.Text, Encoding: ev.Encoding, Segments: ev.Segments,
		Status: ev.Status, ErrorCode: ev.ErrorCode, ErrorMessage: ev.ErrorMessage, Carrier: ev.Carrier,
		CarrierMessageID: ev.CarrierMessageID, CallbackID: ev.CallbackID, WorkflowID: ev.WorkflowID, SendAt: ev.SendAt}
	at := ev.At
	switch ev.Status {
	case "SMS_SENT":
		m.SentAt = &at
	case "SMS_DELIVERED":
		m.DeliveredAt = &at
	}
	if err := a.Store.SaveMessage(ctx, m); err != nil {
		return err
	}
	detail, _ := json.Marshal(ev.Detail)
	id := ev.MessageID
	eventID := ev.MessageID + ":" + ev.Status
	if ev.Detail["event_id"] != "" {
		eventID += ":" + ev.Detail["event_id"]
	}
	_, err := a.Store.AddEvent(ctx, store.Event{MessageID: &id, Source: "workflow", SourceEventID: eventID,
		Kind: "status", Status: ev.Status, Detail: detail, OccurredAt: ev.At})
	return err
}

// eventKinds maps statuses to the portal setting that can switch their timeline event off.
var eventKinds = map[string]string{
	"SMS_DELIVERED": "delivered", "SMS_NOT_DELIVERED": "not_delivered", "SMS_CLICKED": "clicked",
	"SMS_RESPONSE": "response", "SMS_UNSUBSCRIBED": "unsubscribed",
}

// syncHubSpot writes the status to the record: the timeline event (or the fallback note), unless
// the portal switched that kind off — the send event is always written — and the properties.
func (a *Activities) syncHubSpot(ctx context.Context, ev StatusEvent) error {
	if ev.TargetType != "" {
		ev.ObjectType, ev.ObjectID = ev.TargetType, ev.TargetID
	}
	p, err := a.Store.PortalSettingsOf(ctx, ev.PortalID)
	if err != nil {
		return err
	}
	if !p.Connected {
		return nil // nothing can be written; the message log has it
	}
	if !p.PropertiesReady {
		if err := a.HubSpot.SetUp(ctx, ev.PortalID); err != nil {
			return err
		}
	}
	props := map[string]string{
		PropLastStatus:      ev.Status,
		PropLastMessageID:   ev.MessageID,
		PropLastMessageDate: ev.At.UTC().Format(time.RFC3339),
	}
	if ev.Phone != "" {
		props[PropLastDestination] = ev.Phone
	}
	if ev.Text != "" {
		props[PropLastContent] = ev.Text
	}
	if ev.OptedOut {
		props[PropOptedOut] = "true"
	}
	if ev.NumberInvalid {
		props[PropNumberInvalid] = "true"
	}
	// The timeline event first: it is the record of what happened; the properties follow.
	if err := a.timelineEvent(ctx, p, ev); err != nil {
		return ignoreDisconnected(err)
	}
	return ignoreDisconnected(a.HubSpot.UpdateProperties(ctx, ev.PortalID, ev.ObjectType, ev.ObjectID, props))
}

// timelineEvent writes the status's timeline event (or the fallback note) unless the portal
// switched that kind of event off; the send event is always written.
func (a *Activities) timelineEvent(ctx context.Context, p store.PortalSettings, ev StatusEvent) error {
	if kind, ok := eventKinds[ev.Status]; ok {
		for _, off := range p.DisabledEvents {
			if off == kind {
				return nil
			}
		}
	}
	tokens := map[string]string{
		"message_id": ev.MessageID, "sender": ev.Sender, "text": ev.Text, "status": ev.Status,
		"characters": strconv.Itoa(ev.Characters), "segments": strconv.Itoa(ev.Segments), "campaign": ev.Campaign,
		"error_code": ev.ErrorCode, "error_message": ev.ErrorMessage,
	}
	for k, v := range ev.Detail {
		if k != "event_id" {
			tokens[k] = v
		}
	}
	return a.HubSpot.RecordEvent(ctx, ev.PortalID, p.TimelineMode == "fallback", TimelineEvent{
		ID: ev.MessageID + "-" + strings.ToLower(ev.Status) + suffix(ev.Detail["event_id"]), ObjectType: ev.ObjectType, ObjectID: ev.ObjectID,
		Status: ev.Status, At: ev.At, Tokens: tokens,
	})
}

func suffix(eventID string) string {
	if eventID == "" {
		return ""
	}
	return "-" + eventID
}

func ignoreDisconnected(err error) error {
	if errors.Is(err, ErrPortalDisconnected) {
		return nil
	}
	return err
}

// completeAction completes the blocked HubSpot workflow action with the outcome.
func (a *Activities) completeAction(ctx context.Context, in CompleteInput) error {
	err := a.HubSpot.CompleteCallback(ctx, in.PortalID, in.CallbackID, in.Outputs)
	if errors.Is(err, ErrPortalDisconnected) {
		return nil // nobody can complete it now; HubSpot expires it after hs_expiration_duration
	}
	return err
}

// optOut puts the recipient on the suppression list, or takes them off it (START).
func (a *Activities) optOut(ctx context.Context, in OptOutInput) error {
	if in.OptIn {
		return a.Store.Unsuppress(ctx, in.PortalID, channelOr(in.Channel), in.Phone)
	}
	return a.Store.Suppress(ctx, in.PortalID, channelOr(in.Channel), in.Phone, in.Reason, in.MessageID)
}

package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"smsflow/outcome"
	"smsflow/store"
)

// PrepareInput is everything Prepare needs: the request's record and inputs.
type PrepareInput struct {
	Recipient RecipientInput `json:"Recipient"`
	Render    RenderInput    `json:"Render"` // Tokens, Country and Timezones are filled by Prepare
	// Message is the message log row to create, status PENDING (text and counts filled by Prepare).
	Message StatusEvent `json:"Message"`
}

// Prepared is the recorded outcome of Prepare.
type Prepared struct {
	Settings  Settings  `json:"Settings"`
	Recipient Recipient `json:"Recipient"`
	Rendered  Rendered  `json:"Rendered"`
	// Sender is what the message goes out from: the action's sender, or the portal's default
	// sender when the action gives none ("" when it has none either).
	Sender string `json:"Sender"`
}

// Settings are a portal's lifecycle settings, read once per message so the history records them.
type Settings struct {
	DeliveryTimeout time.Duration `json:"DeliveryTimeout"` // how long to wait for a delivery report
	ListenAfter     time.Duration `json:"ListenAfter"`     // how long to keep listening after the action is completed
	DefaultWait     time.Duration `json:"DefaultWait"`     // wait_hours when the action gives none
	MaxSegments     int           `json:"MaxSegments"`
}

// Prepare reads the portal's settings, checks that the portal may send from the action's sender,
// resolves the recipient, renders the text and computes the send time, and creates the message
// log row (PENDING). One activity, recorded once: the history stays small and a changed rule
// table never changes a running message. A sender the portal does not own ends the message
// (Rendered.ErrorCode SENDER_NOT_ALLOWED) before HubSpot is read or anything is held.
func (a *Activities) Prepare(ctx context.Context, in PrepareInput) (Prepared, error) {
	var out Prepared
	portal, err := a.Store.PortalSettingsOf(ctx, in.Recipient.PortalID)
	if err != nil {
		return Prepared{}, err
	}
	out.Settings = a.settingsOf(portal)
	row := in.Message
	row.Status = "PENDING"
	sender, err := a.Store.CheckSender(ctx, in.Recipient.PortalID, in.Message.Sender)
	if err != nil {
		return Prepared{}, err
	}
	out.Sender = in.Message.Sender
	switch {
	case out.Sender == "":
		out.Sender = sender.Default
	case !sender.Allowed:
		out.Rendered.ErrorCode = outcome.SenderNotAllowed
		out.Rendered.ErrorMessage = fmt.Sprintf("sender %q is not one of this HubSpot account's senders; ask the SMS provider to register it", in.Message.Sender)
		return out, a.recordStatus(ctx, row)
	}
	if out.Recipient, err = a.resolveRecipient(ctx, in.Recipient); err != nil {
		return Prepared{}, err
	}
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
		r.LinkHosts = linkHosts(portal.Settings)
		if out.Rendered, err = a.render(ctx, r); err != nil {
			return Prepared{}, err
		}
		if rd := &out.Rendered; rd.Held && rd.ErrorCode == "" {
			wake, note, err := a.heldWake(ctx, rd.SendAt, in.Render.MessageID, in.Recipient.PortalID, out.Sender,
				r.Country, r.Timezones, r.MessageType)
			if err != nil {
				return Prepared{}, err
			}
			rd.SendAt, rd.HeldReason = wake, rd.HeldReason+note
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
	if err := a.recordStatus(ctx, row); err != nil {
		return out, err
	}
	if r := out.Rendered; r.ErrorCode == "" && out.Recipient.ErrorCode == "" && r.SendAt.After(in.Render.Now) {
		reason := holdScheduled
		if r.Held {
			reason = holdWindow
		}
		countHold(reason, row.Country, r.SendAt)
	}
	return out, nil
}

// linkHosts reads the portal's link_hosts setting: the hosts tracked links may lead to (a list,
// or one comma-separated string).
func linkHosts(settings map[string]any) []string {
	var out []string
	switch v := settings["link_hosts"].(type) {
	case []any:
		for _, h := range v {
			if s, ok := h.(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
	case string:
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				out = append(out, h)
			}
		}
	}
	return out
}

// settingsOf reads the portal's lifecycle settings.
func (a *Activities) settingsOf(p store.PortalSettings) Settings {
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
	return s
}

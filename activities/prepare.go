package activities

import (
	"context"
	"time"
)

// PrepareInput is everything Prepare needs: the request's record and inputs.
type PrepareInput struct {
	Recipient RecipientInput
	Render    RenderInput // Tokens, Country and Timezones are filled by Prepare
	// Message is the message log row to create, status PENDING (text and counts filled by Prepare).
	Message StatusEvent
}

// Prepared is the recorded outcome of Prepare.
type Prepared struct {
	Settings  Settings
	Recipient Recipient
	Rendered  Rendered
}

// Settings are a portal's lifecycle settings, read once per message so the history records them.
type Settings struct {
	DeliveryTimeout time.Duration // how long to wait for a delivery report
	ListenAfter     time.Duration // how long to keep listening after the action is completed
	DefaultWait     time.Duration // wait_hours when the action gives none
	MaxSegments     int
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

package activities

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"smsflow/compliance"
	"smsflow/encoding"
	"smsflow/outcome"
	"smsflow/render"
	"smsflow/store"
	"strings"
	"time"
)

// RenderInput is what Render needs to turn the user's text into what is sent.
type RenderInput struct {
	MessageID        string            `json:"MessageID"`
	PortalID         int64             `json:"PortalID"`
	Text             string            `json:"Text"`
	Tokens           map[string]string `json:"Tokens"`
	Country          string            `json:"Country"` // rules country: the number's region
	Timezones        []string          `json:"Timezones"`
	MessageType      string            `json:"MessageType"`
	AllowUnicode     bool              `json:"AllowUnicode"`
	NationalLanguage string            `json:"NationalLanguage"`
	MaxSegments      int               `json:"MaxSegments"`
	AddStop          bool              `json:"AddStop"`
	// UnsubscribeURL adds the unsubscribe link at the end of a text that has no {UNSUB_URL} of
	// its own (the action's "Unsubscribe link" box); a {UNSUB_URL} written in the text is always
	// replaced.
	UnsubscribeURL bool              `json:"UnsubscribeURL"`
	ShortenURLs    bool              `json:"ShortenURLs"`
	UTM            map[string]string `json:"UTM"`
	Now            time.Time         `json:"Now"`    // workflow time: the instant the send time is computed from
	SendAt         *time.Time        `json:"SendAt"` // the user's scheduled time
	// LinkHosts is the portal's allowlist of tracked link hosts (see render.HostAllowed); empty:
	// any host. Filled by Prepare from the portal's settings.
	LinkHosts []string `json:"LinkHosts"`
}

// Violation is a content rule the text breaks.
type Violation struct {
	Code   string `json:"Code"`
	Action string `json:"Action"`
	Detail string `json:"Detail"`
}

// Rendered is the text as it will be sent and when it may go.
type Rendered struct {
	Text             string       `json:"Text"`
	Encoding         string       `json:"Encoding"` // GSM7 | UCS2
	NationalLanguage string       `json:"NationalLanguage"`
	Segments         int          `json:"Segments"`
	Characters       int          `json:"Characters"`
	SendAt           time.Time    `json:"SendAt"`
	Held             bool         `json:"Held"`
	HeldReason       string       `json:"HeldReason"`
	RulesVersion     string       `json:"RulesVersion"`
	Violations       []Violation  `json:"Violations"`
	ErrorCode        outcome.Code `json:"ErrorCode"`
	ErrorMessage     string       `json:"ErrorMessage"`
}

// render makes the tracked and unsubscribe links of the template, personalizes the rest, composes
// the message (STOP mention, encoding, content rules) and computes the send time.
func (a *Activities) render(ctx context.Context, in RenderInput) (Rendered, error) {
	category, err := compliance.ParseCategory(in.MessageType)
	if err != nil {
		return Rendered{ErrorCode: outcome.InvalidMessageType, ErrorMessage: err.Error()}, nil
	}
	text, err := a.templateLinks(ctx, in)
	if err != nil {
		return Rendered{}, err
	}
	text = render.Personalize(text, in.Tokens)
	composed := render.Compose(rules, text, render.ComposeOptions{Country: in.Country, Category: category, AddStop: in.AddStop,
		AllowUnicode: in.AllowUnicode, NationalLanguage: in.NationalLanguage, MaxSegments: in.MaxSegments,
		Compliance: compliance.Config{StopCode: a.Config.StopShortCode, ShortDomains: ownDomains(a.Config.PublicBaseURL)}})
	out := Rendered{}
	for _, v := range composed.Violations {
		out.Violations = append(out.Violations, Violation{Code: v.Code, Action: string(v.Action), Detail: v.Detail})
		if v.Action == compliance.Block && out.ErrorCode == "" {
			out.ErrorCode, out.ErrorMessage = outcome.Code(v.Code), fmt.Sprintf("blocked by the %s rules: %s (%s)", in.Country, v.Code, v.Detail)
		}
	}
	if out.ErrorCode != "" {
		return out, nil
	}
	if err := composed.EncodeErr; err != nil {
		var ee *encoding.Error
		if errors.As(err, &ee) {
			out.ErrorCode, out.ErrorMessage = outcome.Code(ee.Code), ee.Message
			return out, nil
		}
		return Rendered{}, err
	}
	msg := composed.Message
	out.Text, out.Encoding, out.NationalLanguage = msg.Text, string(msg.Alphabet), string(msg.NationalLanguage())
	out.Segments, out.Characters = msg.Segments(), msg.Characters

	from := in.Now
	if in.SendAt != nil && in.SendAt.After(from) {
		from = *in.SendAt
	}
	clock := a.Config.ComplianceClock
	d, err := rules.NextSendTime(clock.At(from), compliance.Recipient{Country: in.Country, Timezones: in.Timezones}, category)
	if err != nil {
		out.ErrorCode, out.ErrorMessage = outcome.ComplianceError, err.Error()
		return out, nil
	}
	d.SendAt = clock.Real(d.SendAt)
	out.SendAt, out.Held, out.HeldReason, out.RulesVersion = d.SendAt, d.Held, d.Reason, d.RulesVersion
	if !d.Held && in.SendAt != nil && in.SendAt.After(in.Now) {
		out.HeldReason = "scheduled by the workflow's send_at"
	}
	return out, nil
}

// templateLinks replaces the links written in the template — before personalization — by
// their tracked short links (or, without shortening, adds the UTM parameters), and
// {UNSUB_URL} by the unsubscribe link. A link that a token's value brings is left as the value
// wrote it: a record property holding a URL never becomes a redirect on our domain. Nor does a
// template link whose host comes from a token, or one to a host off the portal's allowlist.
func (a *Activities) templateLinks(ctx context.Context, in RenderInput) (string, error) {
	text := render.CompactTokens(in.Text)
	if in.UnsubscribeURL && !strings.Contains(text, render.UnsubscribeToken) {
		text = strings.TrimRight(text, " \n") + "\n" + render.UnsubscribeToken
	}
	if strings.Contains(text, render.UnsubscribeToken) {
		code, err := a.Store.CreateShortLink(ctx, in.MessageID, in.PortalID, store.LinkUnsubscribe, "")
		if err != nil {
			return "", err
		}
		text = strings.ReplaceAll(text, render.UnsubscribeToken, a.Config.PublicBaseURL+"/u/"+code)
	}
	if !in.ShortenURLs && len(in.UTM) == 0 {
		return text, nil
	}
	replace := map[string]string{}
	for _, link := range render.Links(text) {
		if strings.HasPrefix(link, a.Config.PublicBaseURL+"/") {
			continue // our own unsubscribe link
		}
		host := render.LinkHost(link)
		if host == "" || !render.HostAllowed(host, in.LinkHosts) {
			continue
		}
		target := render.WithUTM(render.PersonalizeLink(link, in.Tokens), in.UTM)
		if !in.ShortenURLs {
			replace[link] = target
			continue
		}
		code, err := a.Store.CreateShortLink(ctx, in.MessageID, in.PortalID, store.LinkRedirect, target)
		if err != nil {
			return "", err
		}
		replace[link] = a.Config.PublicBaseURL + "/l/" + code
	}
	return render.ReplaceLinks(text, replace), nil
}

func ownDomains(base string) []string {
	if u, err := url.Parse(base); err == nil && u.Hostname() != "" {
		return []string{u.Hostname()}
	}
	return nil
}

package render

import (
	"smsflow/compliance"
	"smsflow/encoding"
)

// ComposeOptions are what turns a personalized text into the message sent.
type ComposeOptions struct {
	Country          string // whose rules apply
	Category         compliance.Category
	AddStop          bool
	AllowUnicode     bool
	NationalLanguage string
	MaxSegments      int
	Compliance       compliance.Config
}

// Composed is the message as the carrier gets it, and what the rules say of it.
type Composed struct {
	Message encoding.Message
	// Mention is the STOP mention appended, empty when none was due or the text had one.
	Mention string
	// Violations are the content rules the text breaks, checked on the text as sent (after
	// transliteration, with the mention); the encoded text when it encodes, the raw one else.
	Violations []compliance.Violation
	// EncodeErr is why the text cannot be encoded (*encoding.Error), nil when it can.
	EncodeErr error
}

// Compose appends the STOP mention where the country's rules want one, encodes and segments the
// text, and checks the content rules on what would be sent. The preview and the real send both
// use it, so what a user previews is what goes.
func Compose(rules *compliance.Table, text string, o ComposeOptions) Composed {
	var out Composed
	text, out.Mention = rules.ApplyStop(text, o.Country, o.Category, o.AddStop, o.Compliance)
	out.Message, out.EncodeErr = encoding.Encode(text, encoding.Options{AllowUnicode: o.AllowUnicode,
		NationalLanguage: encoding.Language(o.NationalLanguage), MaxSegments: o.MaxSegments})
	checked := text
	if out.EncodeErr == nil {
		checked = out.Message.Text
	}
	out.Violations = rules.Check(checked, o.Country, compliance.CheckOptions{Category: o.Category, ShortDomains: o.Compliance.ShortDomains})
	return out
}

package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"smsflow/compliance"
	"smsflow/encoding"
	"smsflow/outcome"
	"smsflow/phone"
	"smsflow/render"
)

// maxPreviewBody bounds the request body; a 1,600-character message fits many times over even
// with every character JSON-escaped.
const maxPreviewBody = 64 << 10

// PreviewRequest is the body of POST /v1/preview.
type PreviewRequest struct {
	Message          string `json:"message"`
	AllowUnicode     bool   `json:"allow_unicode"`
	NationalLanguage string `json:"national_language"` // "", "pt", "es" or "tr"
	MaxSegments      int    `json:"max_segments"`      // 0 or absent: 5

	// Compliance: all optional. Without phone and country no country rule applies.
	Phone       string `json:"phone"`        // national or international form
	Country     string `json:"country"`      // ISO 3166 alpha-2; the default region of phone
	MessageType string `json:"message_type"` // "marketing" (default, the stricter) or "transactional"
	At          string `json:"at"`           // RFC 3339 instant of the send; absent: now
	AddStop     bool   `json:"add_stop"`     // append the opt-out mention (forced where required)
}

// PreviewResponse says how the message would be sent.
type PreviewResponse struct {
	Encoding         string               `json:"encoding"`          // "GSM7" or "UCS2"
	NationalLanguage string               `json:"national_language"` // tables in use, "" for none
	Segments         int                  `json:"segments"`
	Units            int                  `json:"units"`         // septets or UTF-16 code units
	UnitCapacity     int                  `json:"unit_capacity"` // units per part
	Remaining        int                  `json:"remaining"`     // units left in the last part
	Text             string               `json:"text"`          // as sent, after transliteration
	Parts            []string             `json:"parts"`
	Replaced         []PreviewReplacement `json:"replaced"`
	UnicodeChars     []string             `json:"unicode_chars"`

	// Compliance. Text and the counts above include the STOP mention when one applies.
	PhoneE164       string                 `json:"phone_e164"`       // "" without phone
	PhoneType       string                 `json:"phone_type"`       // phone.Type, "" without phone
	Timezones       []string               `json:"timezones"`        // the zones the window is checked in
	RulesCountry    string                 `json:"rules_country"`    // the country whose rules apply, "" for none
	SendAt          string                 `json:"send_at"`          // RFC 3339 UTC: earliest allowed send
	Held            bool                   `json:"held"`             // send_at is later than at
	HeldReason      string                 `json:"held_reason"`      // why, for a person
	Violations      []compliance.Violation `json:"violations"`       // content rules broken
	StopMention     string                 `json:"stop_mention"`     // the mention appended, "" for none
	ConsentRequired bool                   `json:"consent_required"` // express opt-in needed (Ireland)
	RulesVersion    string                 `json:"rules_version"`
}

// PreviewReplacement is one transliteration made.
type PreviewReplacement struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// previewError is the body of every non-200 answer of the preview.
type previewError struct {
	ErrorCode    string `json:"error_code"`
	ErrorMessage string `json:"error_message"`
	// Unsupported names the characters of UNSUPPORTED_CHARACTERS.
	Unsupported []string `json:"unsupported_characters,omitempty"`
	// Segments … MaxCharacters give the counts of MESSAGE_TOO_LONG.
	Segments      int `json:"segments,omitempty"`
	MaxSegments   int `json:"max_segments,omitempty"`
	Characters    int `json:"characters,omitempty"`
	MaxCharacters int `json:"max_characters,omitempty"`
}

// Error codes of the preview beyond those of package encoding.
const (
	codeInvalidRequest  = string(outcome.InvalidRequest)
	codeRequestTooLarge = string(outcome.RequestTooLarge)
	codeComplianceError = string(outcome.ComplianceError)
)

// PreviewConfig is what the preview takes from the configuration.
type PreviewConfig struct {
	// Compliance gives the French STOP short code (config Carrier.StopShortCode) and the
	// service's own short link domains (the host of PublicBaseURL), never public shorteners.
	Compliance compliance.Config
	Rules      *compliance.Table // nil: compliance.DefaultTable()
	Now        func() time.Time  // nil: time.Now; the handler reads the clock, compliance never does
}

// RegisterPreview adds POST /v1/preview with the default configuration. It needs neither
// Temporal nor PostgreSQL.
func RegisterPreview(r gin.IRoutes) {
	RegisterPreviewWith(r, PreviewConfig{})
}

// RegisterPreviewWith adds POST /v1/preview with cfg.
func RegisterPreviewWith(r gin.IRoutes, cfg PreviewConfig) {
	if cfg.Rules == nil {
		cfg.Rules = compliance.DefaultTable()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r.POST("/v1/preview", cfg.preview)
}

// preview answers 200 with the encoding and the compliance decision; 400 INVALID_REQUEST when the
// body is not a JSON object of the right shape; 413 when the body is over 64 KiB; 422 when the
// request is well formed but invalid (INVALID_REQUEST, INVALID_MESSAGE_TYPE, INVALID_PHONE) or the
// message cannot be sent (UNSUPPORTED_CHARACTERS, MESSAGE_TOO_LONG, NOT_A_MOBILE).
func (cfg PreviewConfig) preview(c *gin.Context) {
	var req PreviewRequest
	if status, perr := decodePreview(c, &req); perr != nil {
		c.JSON(status, perr)
		return
	}
	if req.Message == "" {
		c.JSON(http.StatusUnprocessableEntity, previewError{ErrorCode: codeInvalidRequest,
			ErrorMessage: "message is required"})
		return
	}
	comp, perr := cfg.compliance(req)
	if perr != nil {
		status := http.StatusUnprocessableEntity
		if perr.ErrorCode == codeComplianceError {
			status = http.StatusInternalServerError
		}
		c.JSON(status, perr)
		return
	}
	composed := render.Compose(cfg.Rules, req.Message, render.ComposeOptions{Country: comp.country, Category: comp.category,
		AddStop: req.AddStop, AllowUnicode: req.AllowUnicode, NationalLanguage: req.NationalLanguage,
		MaxSegments: req.MaxSegments, Compliance: cfg.Compliance})
	if composed.EncodeErr != nil {
		c.JSON(http.StatusUnprocessableEntity, previewErrorOf(composed.EncodeErr))
		return
	}
	resp := previewResponse(composed.Message)
	comp.fill(&resp)
	resp.StopMention = composed.Mention
	resp.Violations = composed.Violations
	if resp.Violations == nil {
		resp.Violations = []compliance.Violation{}
	}
	c.JSON(http.StatusOK, resp)
}

// previewCompliance is the compliance side of one preview.
type previewCompliance struct {
	category compliance.Category
	country  string // whose rules apply
	number   phone.Number
	decision compliance.Decision
	consent  bool
}

var countryRE = regexp.MustCompile(`^[A-Za-z]{2}$`)

func (cfg PreviewConfig) compliance(req PreviewRequest) (previewCompliance, *previewError) {
	out := previewCompliance{category: compliance.Marketing}
	if strings.TrimSpace(req.MessageType) != "" {
		cat, err := compliance.ParseCategory(req.MessageType)
		if err != nil {
			return out, &previewError{ErrorCode: compliance.ErrCategory.Error(),
				ErrorMessage: "message_type must be marketing or transactional"}
		}
		out.category = cat
	}
	at := cfg.Now()
	if req.At != "" {
		t, err := time.Parse(time.RFC3339, req.At)
		if err != nil {
			return out, &previewError{ErrorCode: codeInvalidRequest,
				ErrorMessage: "at must be an RFC 3339 time, e.g. 2026-11-25T14:00:00+01:00"}
		}
		at = t
	}
	country := strings.ToUpper(strings.TrimSpace(req.Country))
	if country != "" && !countryRE.MatchString(country) {
		return out, &previewError{ErrorCode: codeInvalidRequest,
			ErrorMessage: "country must be an ISO 3166 alpha-2 code such as FR"}
	}
	out.country = country
	if strings.TrimSpace(req.Phone) != "" {
		n, err := phone.Parse(req.Phone, country)
		var pe *phone.Error
		if errors.As(err, &pe) {
			return out, &previewError{ErrorCode: pe.Code, ErrorMessage: "phone: " + pe.Detail}
		} else if err != nil {
			return out, &previewError{ErrorCode: phone.CodeInvalid, ErrorMessage: err.Error()}
		}
		// The rules of the number's own country apply ("+44 7…" given with country FR is British).
		out.number, out.country = n, n.Region
	}
	d, err := cfg.Rules.NextSendTime(at, compliance.Recipient{Country: out.country, Timezones: out.number.Timezones}, out.category)
	if err != nil {
		return out, &previewError{ErrorCode: codeComplianceError, ErrorMessage: err.Error()}
	}
	out.decision = d
	out.consent = cfg.Rules.ConsentRequired(out.country, out.category)
	return out, nil
}

func (p previewCompliance) fill(resp *PreviewResponse) {
	resp.PhoneE164, resp.PhoneType = p.number.E164, string(p.number.Type)
	// The number's zones; without a number, the country's default zones the window was checked in.
	resp.Timezones = append([]string{}, p.number.Timezones...)
	if len(resp.Timezones) == 0 {
		resp.Timezones = append(resp.Timezones, p.decision.Timezones...)
	}
	resp.RulesCountry = p.decision.Country
	resp.SendAt = p.decision.SendAt.Format(time.RFC3339)
	resp.Held, resp.HeldReason = p.decision.Held, p.decision.Reason
	resp.ConsentRequired = p.consent
	resp.RulesVersion = p.decision.RulesVersion
}

func decodePreview(c *gin.Context, req *PreviewRequest) (int, *previewError) {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxPreviewBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http.StatusRequestEntityTooLarge, &previewError{ErrorCode: codeRequestTooLarge,
				ErrorMessage: fmt.Sprintf("request body is over %d bytes", maxPreviewBody)}
		}
		return http.StatusBadRequest, &previewError{ErrorCode: codeInvalidRequest,
			ErrorMessage: "body must be a JSON object: " + err.Error()}
	}
	if dec.More() {
		return http.StatusBadRequest, &previewError{ErrorCode: codeInvalidRequest,
			ErrorMessage: "body must hold a single JSON object"}
	}
	return 0, nil
}

func previewErrorOf(err error) previewError {
	var e *encoding.Error
	if !errors.As(err, &e) {
		return previewError{ErrorCode: codeInvalidRequest, ErrorMessage: err.Error()}
	}
	out := previewError{ErrorCode: string(e.Code), ErrorMessage: e.Message}
	switch e.Code {
	case encoding.CodeUnsupportedCharacters:
		out.Unsupported = e.Chars
	case encoding.CodeMessageTooLong:
		out.Segments, out.MaxSegments = e.Segments, e.MaxSegments
		out.Characters, out.MaxCharacters = e.Characters, e.MaxCharacters
	case encoding.CodeInvalidOptions, encoding.CodeEmptyMessage, encoding.CodeInvalidText:
		out.ErrorCode = codeInvalidRequest
	}
	return out
}

func previewResponse(m encoding.Message) PreviewResponse {
	resp := PreviewResponse{
		Encoding:         string(m.Alphabet),
		NationalLanguage: string(m.NationalLanguage()),
		Segments:         m.Segments(),
		Units:            m.Units,
		UnitCapacity:     m.Capacity,
		Remaining:        m.Remaining,
		Text:             m.Text,
		Parts:            make([]string, len(m.Parts)),
		Replaced:         make([]PreviewReplacement, len(m.Replaced)),
		UnicodeChars:     append([]string{}, m.UnicodeChars...),
	}
	for i, p := range m.Parts {
		resp.Parts[i] = p.Text
	}
	for i, r := range m.Replaced {
		resp.Replaced[i] = PreviewReplacement{From: r.From, To: r.To}
	}
	return resp
}

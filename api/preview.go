package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"smsflow/encoding"
)

// maxPreviewBody bounds the request body; a 1,600-character message fits many times over even
// with every character JSON-escaped.
const maxPreviewBody = 64 << 10

// PreviewRequest is the body of POST /v1/preview [F29].
type PreviewRequest struct {
	Message          string `json:"message"`
	AllowUnicode     bool   `json:"allow_unicode"`
	NationalLanguage string `json:"national_language"` // "", "pt", "es" or "tr"
	MaxSegments      int    `json:"max_segments"`      // 0 or absent: 5
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
	codeInvalidRequest  = "INVALID_REQUEST"
	codeRequestTooLarge = "REQUEST_TOO_LARGE"
)

// RegisterPreview adds POST /v1/preview. It needs neither Temporal nor PostgreSQL.
func RegisterPreview(r gin.IRoutes) {
	r.POST("/v1/preview", preview)
}

// preview answers 200 with the encoding; 400 INVALID_REQUEST when the body is not a JSON object
// of the right shape; 413 when the body is over 64 KiB; 422 when the request is well formed but
// invalid (INVALID_REQUEST) or the message cannot be sent (UNSUPPORTED_CHARACTERS,
// MESSAGE_TOO_LONG).
func preview(c *gin.Context) {
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
	m, err := encoding.Encode(req.Message, encoding.Options{
		AllowUnicode:     req.AllowUnicode,
		NationalLanguage: encoding.Language(req.NationalLanguage),
		MaxSegments:      req.MaxSegments,
	})
	if err != nil {
		c.JSON(http.StatusUnprocessableEntity, previewErrorOf(err))
		return
	}
	c.JSON(http.StatusOK, previewResponse(m))
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

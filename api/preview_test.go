package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func previewServer(t *testing.T) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.TestMode)
	r := gin.New()
	// A fixed clock: nothing here depends on the time of the run.
	RegisterPreviewWith(r, PreviewConfig{Now: func() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) }})
	return r
}

func postPreview(t *testing.T, r http.Handler, body string) (int, []byte) {
	t.Helper()
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/v1/preview", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	r.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPreviewEncodes(t *testing.T) {
	r := previewServer(t)
	tests := []struct {
		name string
		req  map[string]any
		want PreviewResponse // encoding fields only
	}{
		{"161 GSM characters take two parts", map[string]any{"message": strings.Repeat("a", 161)},
			PreviewResponse{Encoding: "GSM7", Segments: 2, Units: 161, UnitCapacity: 153, Remaining: 145,
				Text: strings.Repeat("a", 161), Parts: []string{strings.Repeat("a", 153), strings.Repeat("a", 8)},
				Replaced: []PreviewReplacement{}, UnicodeChars: []string{}}},
		{"transliterated without unicode", map[string]any{"message": "Olá “Ana” – até já"},
			PreviewResponse{Encoding: "GSM7", Segments: 1, Units: 18, UnitCapacity: 160, Remaining: 142,
				Text: `Ola "Ana" - até ja`, Parts: []string{`Ola "Ana" - até ja`},
				Replaced:     []PreviewReplacement{{"á", "a"}, {"“", `"`}, {"”", `"`}, {"–", "-"}},
				UnicodeChars: []string{}}},
		{"Portuguese tables keep the accents", map[string]any{"message": "Olá Ana, até já", "national_language": "pt"},
			PreviewResponse{Encoding: "GSM7", NationalLanguage: "pt", Segments: 1, Units: 15, UnitCapacity: 155,
				Remaining: 140, Text: "Olá Ana, até já", Parts: []string{"Olá Ana, até já"},
				Replaced: []PreviewReplacement{}, UnicodeChars: []string{}}},
		{"emoji with unicode allowed", map[string]any{"message": "Olá 😀", "allow_unicode": true},
			PreviewResponse{Encoding: "UCS2", Segments: 1, Units: 6, UnitCapacity: 70, Remaining: 64,
				Text: "Olá 😀", Parts: []string{"Olá 😀"}, Replaced: []PreviewReplacement{},
				UnicodeChars: []string{"á", "😀"}}},
		{"max_segments raised", map[string]any{"message": strings.Repeat("a", 766), "max_segments": 6},
			PreviewResponse{Encoding: "GSM7", Segments: 6, Units: 766, UnitCapacity: 153, Remaining: 152,
				Text: strings.Repeat("a", 766), Parts: []string{rep153(), rep153(), rep153(), rep153(), rep153(), "a"},
				Replaced: []PreviewReplacement{}, UnicodeChars: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := postPreview(t, r, jsonBody(t, tt.req))
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			var got PreviewResponse
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			enc := PreviewResponse{Encoding: got.Encoding, NationalLanguage: got.NationalLanguage,
				Segments: got.Segments, Units: got.Units, UnitCapacity: got.UnitCapacity, Remaining: got.Remaining,
				Text: got.Text, Parts: got.Parts, Replaced: got.Replaced, UnicodeChars: got.UnicodeChars}
			if !reflect.DeepEqual(enc, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", enc, tt.want)
			}
			// Empty lists are [] on the wire, never null.
			for _, key := range []string{`"replaced":[`, `"unicode_chars":[`, `"parts":[`} {
				if !bytes.Contains(body, []byte(key)) {
					t.Fatalf("%s missing from %s", key, body)
				}
			}
		})
	}
}

func rep153() string { return strings.Repeat("a", 153) }

func TestPreviewErrors(t *testing.T) {
	r := previewServer(t)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		check  func(t *testing.T, e previewError)
	}{
		{"emoji without unicode", `{"message":"Hi 😀"}`, 422, "UNSUPPORTED_CHARACTERS",
			func(t *testing.T, e previewError) {
				if !reflect.DeepEqual(e.Unsupported, []string{"😀"}) {
					t.Fatalf("unsupported %q", e.Unsupported)
				}
			}},
		{"over five parts", jsonBody(t, map[string]any{"message": strings.Repeat("a", 766)}), 422, "MESSAGE_TOO_LONG",
			func(t *testing.T, e previewError) {
				if e.Segments != 6 || e.MaxSegments != 5 || e.Characters != 766 || e.MaxCharacters != 1600 {
					t.Fatalf("counts %+v", e)
				}
			}},
		{"over 1600 characters", jsonBody(t, map[string]any{"message": strings.Repeat("a", 1601), "max_segments": 20}),
			422, "MESSAGE_TOO_LONG", func(t *testing.T, e previewError) {
				if e.Characters != 1601 || e.Segments != 11 {
					t.Fatalf("counts %+v", e)
				}
			}},
		{"over max_segments 1", jsonBody(t, map[string]any{"message": strings.Repeat("a", 161), "max_segments": 1}),
			422, "MESSAGE_TOO_LONG", nil},
		{"missing message", `{"allow_unicode":true}`, 422, "INVALID_REQUEST", nil},
		{"unknown national language", `{"message":"hi","national_language":"fr"}`, 422, "INVALID_REQUEST", nil},
		{"negative max_segments", `{"message":"hi","max_segments":-1}`, 422, "INVALID_REQUEST", nil},
		{"malformed JSON", `{"message":`, 400, "INVALID_REQUEST", nil},
		{"wrong type", `{"message":5}`, 400, "INVALID_REQUEST", nil},
		{"two objects", `{"message":"a"}{"message":"b"}`, 400, "INVALID_REQUEST", nil},
		{"body over 64 KiB", jsonBody(t, map[string]any{"message": strings.Repeat("a", 70000)}), 413, "REQUEST_TOO_LARGE", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := postPreview(t, r, tt.body)
			var e previewError
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if code != tt.status || e.ErrorCode != tt.code || e.ErrorMessage == "" {
				t.Fatalf("status %d %+v, want %d %s", code, e, tt.status, tt.code)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

// The route is the one the router mounts with RegisterPreview.
func TestRegisterPreviewRoute(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	RegisterPreview(r)
	code, body := postPreview(t, r, `{"message":"hello"}`)
	if code != http.StatusOK || !bytes.Contains(body, []byte(`"segments":1`)) {
		t.Fatalf("status %d: %s", code, body)
	}
}

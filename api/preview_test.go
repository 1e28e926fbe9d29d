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

	"smsflow/compliance"
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

// complianceRouter serves only the preview, with a fixed clock and a STOP code and short domain
// from the configuration: no Temporal, no PostgreSQL.
func complianceRouter(now time.Time) http.Handler {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	RegisterPreviewWith(r, PreviewConfig{
		Compliance: compliance.Config{StopCode: "36111", ShortDomains: []string{"go.smsflow.example"}},
		Now:        func() time.Time { return now },
	})
	return r
}

func postCompliance(t *testing.T, h http.Handler, body map[string]any) (int, PreviewResponse, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/preview", bytes.NewReader(b)))
	var resp PreviewResponse
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
	}
	return rec.Code, resp, raw
}

// A marketing SMS to a French mobile on a Sunday afternoon: held until Monday 08:00 Paris time,
// and the STOP mention is forced, part of the text and of the counts.
func TestPreviewComplianceFranceSunday(t *testing.T) {
	h := complianceRouter(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	msg := strings.Repeat("a", 150)
	code, resp, raw := postCompliance(t, h, map[string]any{
		"message": msg, "phone": "06 12 34 56 78", "country": "FR",
		"message_type": "marketing", "at": "2026-03-22T14:00:00+01:00",
	})
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, raw)
	}
	if resp.PhoneE164 != "+33612345678" || !reflect.DeepEqual(resp.Timezones, []string{"Europe/Paris"}) {
		t.Errorf("phone_e164 %q timezones %v", resp.PhoneE164, resp.Timezones)
	}
	if resp.SendAt != "2026-03-23T07:00:00Z" || !resp.Held {
		t.Errorf("send_at %q held %v", resp.SendAt, resp.Held)
	}
	if want := "France: marketing SMS allowed Mon–Sat 08:00–22:00 Europe/Paris time, not on public holidays; held until Mon 2026-03-23 08:00 Europe/Paris"; resp.HeldReason != want {
		t.Errorf("held_reason %q", resp.HeldReason)
	}
	if resp.Text != msg+"\nSTOP au 36111" || resp.StopMention != "STOP au 36111" {
		t.Errorf("text %q stop_mention %q", resp.Text, resp.StopMention)
	}
	// 150 + 1 + 13 = 164 GSM-7 characters: two parts, where the bare message fits in one.
	if resp.Units != 164 || resp.Segments != 2 {
		t.Errorf("units %d segments %d, want 164 and 2", resp.Units, resp.Segments)
	}
	if v, ok := raw["violations"].([]any); !ok || len(v) != 0 {
		t.Errorf("violations = %#v, want []", raw["violations"])
	}
	if resp.RulesVersion != compliance.RulesVersion || resp.RulesCountry != "FR" {
		t.Errorf("rules %q %q", resp.RulesVersion, resp.RulesCountry)
	}
}

func TestPreviewComplianceFields(t *testing.T) {
	now := time.Date(2026, 1, 15, 13, 0, 0, 0, time.UTC) // 08:00 New York, 03:00 Honolulu
	h := complianceRouter(now)
	tests := []struct {
		name       string
		req        map[string]any
		e164       string
		zones      []string
		sendAt     string
		held       bool
		text       string
		violations []compliance.Violation
		consent    bool
	}{
		{"at defaults to now; New York open", map[string]any{"message": "Hi", "phone": "(212) 555-0100", "country": "US"},
			"+12125550100", []string{"America/New_York"}, "2026-01-15T13:00:00Z", false, "Hi", nil, false},
		{"Hawaii held until 08:00 HST", map[string]any{"message": "Hi", "phone": "+1 808 555 0100", "country": "US"},
			"+18085550100", []string{"Pacific/Honolulu"}, "2026-01-15T18:00:00Z", true, "Hi", nil, false},
		{"transactional never held", map[string]any{"message": "Code 1234", "phone": "+1 808 555 0100", "message_type": "transactional"},
			"+18085550100", []string{"Pacific/Honolulu"}, "2026-01-15T13:00:00Z", false, "Code 1234", nil, false},
		{"US public shortener blocked, own domain fine",
			map[string]any{"message": "Sale https://bit.ly/x and https://go.smsflow.example/a", "phone": "2125550100", "country": "US"},
			"+12125550100", []string{"America/New_York"}, "2026-01-15T13:00:00Z", false,
			"Sale https://bit.ly/x and https://go.smsflow.example/a",
			[]compliance.Violation{{Code: "PUBLIC_URL_SHORTENER", Action: "block", Detail: "bit.ly"}}, false},
		{"US add_stop", map[string]any{"message": "Sale", "phone": "2125550100", "country": "US", "add_stop": true},
			"+12125550100", []string{"America/New_York"}, "2026-01-15T13:00:00Z", false, "Sale\nReply STOP to opt out", nil, false},
		{"Ireland: consent required", map[string]any{"message": "Offer", "phone": "085 123 4567", "country": "IE"},
			"+353851234567", []string{"Europe/Guernsey", "Europe/Isle_of_Man", "Europe/London"}, "2026-01-15T13:00:00Z", false, "Offer", nil, true},
		{"Colombia Monday holiday → Tuesday 07:00", map[string]any{"message": "Oferta", "phone": "300 1234567", "country": "CO", "at": "2026-01-12T09:00:00-05:00"},
			"+573001234567", []string{"America/Bogota"}, "2026-01-13T12:00:00Z", true, "Oferta", nil, false},
		{"country without phone, transactional", map[string]any{"message": "Promo", "country": "fr", "at": "2026-03-22T14:00:00+01:00", "message_type": "transactional"},
			"", []string{}, "2026-03-22T13:00:00Z", false, "Promo", nil, false},
		{"country without phone: the country's zone", map[string]any{"message": "Promo", "country": "FR", "at": "2026-03-22T14:00:00+01:00"},
			"", []string{"Europe/Paris"}, "2026-03-23T07:00:00Z", true, "Promo\nSTOP au 36111", nil, false},
		{"no phone, no country: encoding only", map[string]any{"message": "Hello"},
			"", []string{}, "2026-01-15T13:00:00Z", false, "Hello", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, resp, raw := postCompliance(t, h, tt.req)
			if code != http.StatusOK {
				t.Fatalf("status %d: %v", code, raw)
			}
			if resp.PhoneE164 != tt.e164 || !reflect.DeepEqual(resp.Timezones, tt.zones) {
				t.Errorf("phone_e164 %q timezones %#v, want %q %#v", resp.PhoneE164, resp.Timezones, tt.e164, tt.zones)
			}
			if resp.SendAt != tt.sendAt || resp.Held != tt.held || (resp.HeldReason != "") != tt.held {
				t.Errorf("send_at %q held %v reason %q, want %q %v", resp.SendAt, resp.Held, resp.HeldReason, tt.sendAt, tt.held)
			}
			if resp.Text != tt.text {
				t.Errorf("text %q, want %q", resp.Text, tt.text)
			}
			want := tt.violations
			if want == nil {
				want = []compliance.Violation{}
			}
			if !reflect.DeepEqual(resp.Violations, want) {
				t.Errorf("violations %v, want %v", resp.Violations, want)
			}
			if resp.ConsentRequired != tt.consent {
				t.Errorf("consent_required %v", resp.ConsentRequired)
			}
			for _, k := range []string{"phone_e164", "timezones", "send_at", "held", "held_reason", "violations"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("response has no %q", k)
				}
			}
		})
	}
}

func TestPreviewComplianceErrors(t *testing.T) {
	h := complianceRouter(time.Date(2026, 1, 15, 13, 0, 0, 0, time.UTC))
	for _, tt := range []struct {
		req    map[string]any
		status int
		code   string
	}{
		{map[string]any{"message": "Hi", "phone": "0612", "country": "FR"}, 422, "INVALID_PHONE"},
		{map[string]any{"message": "Hi", "phone": "0612345678"}, 422, "INVALID_PHONE"},
		{map[string]any{"message": "Hi", "phone": "01 42 68 53 00", "country": "FR"}, 422, "NOT_A_MOBILE"},
		{map[string]any{"message": "Hi", "message_type": "promo"}, 422, "INVALID_MESSAGE_TYPE"},
		{map[string]any{"message": "Hi", "at": "tomorrow"}, 422, "INVALID_REQUEST"},
		{map[string]any{"message": "Hi", "country": "France"}, 422, "INVALID_REQUEST"},
	} {
		code, _, raw := postCompliance(t, h, tt.req)
		if code != tt.status || raw["error_code"] != tt.code || raw["error_message"] == "" {
			t.Errorf("%v: %d %v, want %d %s", tt.req, code, raw, tt.status, tt.code)
		}
		if msg, _ := raw["error_message"].(string); strings.Contains(msg, "0612") || strings.Contains(msg, "142685300") {
			t.Errorf("%v: the error message repeats the number: %q", tt.req, msg)
		}
	}
}

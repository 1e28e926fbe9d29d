package encoding

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncode checks Encode and Count against the independent model: the parts joined give the
// sent text; every part is within its capacity; parts end only on grapheme cluster boundaries
// (hence never inside an escape sequence or surrogate pair) unless a cluster is larger than a
// part; units and part boundaries equal the model's; Count agrees with Encode.
//
//	go test -run=^$ -fuzz=FuzzEncode -fuzztime=20s ./encoding
func FuzzEncode(f *testing.F) {
	seeds := []string{
		"Hello", "Bonjour, votre commande n°1234 est prête à être retirée — à bientôt !",
		"Olá! A sua encomenda está a caminho. Código: ABC-123. Obrigado 🙂",
		"¡Hola! Tu cita es mañana a las 10:00. Responde SÍ para confirmar.",
		"Merhaba, siparişiniz yola çıktı. İyi günler dileriz. Ğ ğ Ş ş İ ı",
		strings.Repeat("a", 160), strings.Repeat("a", 161), strings.Repeat("€", 81),
		strings.Repeat("a", 152) + "{" + strings.Repeat("a", 10),
		strings.Repeat("ж", 66) + "😀" + strings.Repeat("ж", 10),
		strings.Repeat("ã", 156), strings.Repeat("á", 78), "ªΦ" + strings.Repeat("a", 151),
		strings.Repeat("a", 152) + "\r\n" + "b", strings.Repeat("ж", 60) + "👨‍👩‍👧" + strings.Repeat("ж", 10),
		"a" + strings.Repeat("\u0301", 80), "e\u0301", "🇫🇷🇵🇹🇪🇸", "\r\u200B\n", "a\xffb", "",
		"“Smart” quotes… and\u00A0NBSP\u202F!", "中文 テスト", "\u00AD",
	}
	for i, s := range seeds {
		f.Add(s, i%2 == 0, uint8(i%4), uint8(0))
	}
	f.Add(strings.Repeat("a", 1601), false, uint8(0), uint8(255))
	f.Add(strings.Repeat("😀", 300), true, uint8(0), uint8(20))
	f.Fuzz(func(t *testing.T, text string, allowUnicode bool, lang, maxSegments uint8) {
		opts := Options{AllowUnicode: allowUnicode, NationalLanguage: [...]Language{"", "pt", "es", "tr"}[lang%4],
			MaxSegments: int(maxSegments)}
		checkAgainstModel(t, text, opts)
	})
}

func checkAgainstModel(t *testing.T, text string, opts Options) {
	t.Helper()
	m, err := Encode(text, opts)
	c, cerr := Count(text, opts)
	if err != nil {
		checkError(t, text, opts, err, cerr)
		return
	}
	if cerr != nil {
		t.Fatalf("Encode succeeded, Count failed: %v", cerr)
	}

	// Parts joined give the sent text; none is empty.
	var joined strings.Builder
	for _, p := range m.Parts {
		if p.Text == "" {
			t.Fatalf("empty part in %+v", m.Parts)
		}
		joined.WriteString(p.Text)
	}
	if joined.String() != m.Text {
		t.Fatalf("parts %+v do not join to text %q", m.Parts, m.Text)
	}

	// The sent text is encodable as stated, and the parts are the model's parts.
	var pair *modelPair
	if m.Alphabet == GSM7 {
		p := modelPair{m.Locking, m.Single}
		pair = &p
		if !modelCarries(p, m.Text) {
			t.Fatalf("sent text %q has characters outside tables %+v", m.Text, p)
		}
		if (p.lock != NoLanguage && p.lock != opts.NationalLanguage) || (p.single != NoLanguage && p.single != opts.NationalLanguage) {
			t.Fatalf("tables %+v not enabled by %+v", p, opts)
		}
		if opts.AllowUnicode && (m.Text != text || len(m.Replaced) != 0) {
			t.Fatalf("transliterated %q to %q although unicode is allowed", text, m.Text)
		}
	} else {
		if !opts.AllowUnicode {
			t.Fatalf("UCS-2 chosen for %q although unicode is not allowed", text)
		}
		if m.Text != text {
			t.Fatalf("UCS-2 text changed: %q → %q", text, m.Text)
		}
		for _, p := range modelPairs(opts.NationalLanguage) {
			if modelCarries(p, text) {
				t.Fatalf("UCS-2 chosen for %q but tables %+v carry it", text, p)
			}
		}
		if len(m.UnicodeChars) == 0 {
			t.Fatalf("UCS-2 chosen for %q without naming a character", text)
		}
		for _, ch := range m.UnicodeChars {
			if !strings.Contains(text, ch) {
				t.Fatalf("unicode char %q not in text", ch)
			}
		}
	}
	want := modelEncode(m.Text, pair)
	if len(want) != len(m.Parts) {
		t.Fatalf("%d parts, model %d: got %+v want %+v", len(m.Parts), len(want), m.Parts, want)
	}
	total := 0
	for i, p := range m.Parts {
		if p.Text != want[i].text || p.Units != want[i].units {
			t.Fatalf("part %d = %q (%d units), model %q (%d units)", i, p.Text, p.Units, want[i].text, want[i].units)
		}
		if p.Units > m.Capacity {
			t.Fatalf("part %d has %d units > capacity %d", i, p.Units, m.Capacity)
		}
		total += p.Units
	}
	ies := 0
	if pair != nil {
		ies = pair.ies()
	}
	single, multi := modelCapacity(m.Alphabet, ies)
	wantCap := single
	if len(m.Parts) > 1 {
		wantCap = multi
	}
	if m.Units != total || m.Capacity != wantCap || m.Remaining != wantCap-m.Parts[len(m.Parts)-1].Units {
		t.Fatalf("units %d capacity %d remaining %d; want %d %d %d", m.Units, m.Capacity, m.Remaining,
			total, wantCap, wantCap-m.Parts[len(m.Parts)-1].Units)
	}
	if m.Characters != modelRunes(m.Text) || m.Characters > MaxCharacters {
		t.Fatalf("characters %d, text has %d", m.Characters, modelRunes(m.Text))
	}
	limit := opts.MaxSegments
	if limit == 0 {
		limit = DefaultMaxSegments
	}
	if len(m.Parts) > limit {
		t.Fatalf("%d parts over the limit %d", len(m.Parts), limit)
	}

	// Cheapest: when unicode is allowed (no transliteration), no enabled table pair carrying the
	// text needs fewer parts, or as many parts with fewer header IEs.
	if pair != nil && opts.AllowUnicode {
		for _, p := range modelPairs(opts.NationalLanguage) {
			if !modelCarries(p, text) {
				continue
			}
			n := len(modelEncode(text, &p))
			if n < len(m.Parts) || (n == len(m.Parts) && p.ies() < pair.ies()) {
				t.Fatalf("tables %+v give %d parts, chosen %+v gives %d", p, n, *pair, len(m.Parts))
			}
		}
	}

	// Count takes the same decisions.
	wantCount := Counts{Alphabet: m.Alphabet, Locking: m.Locking, Single: m.Single, Segments: len(m.Parts),
		Units: m.Units, Capacity: m.Capacity, Remaining: m.Remaining, Characters: m.Characters}
	c.Replacements = 0
	if c != wantCount {
		t.Fatalf("Count %+v, Encode %+v", c, wantCount)
	}
}

func checkError(t *testing.T, text string, opts Options, err, cerr error) {
	t.Helper()
	var e, ce *Error
	if !errors.As(err, &e) || !errors.As(cerr, &ce) || e.Code != ce.Code {
		t.Fatalf("Encode error %v, Count error %v: want the same *Error code", err, cerr)
	}
	switch e.Code {
	case CodeInvalidText:
		if utf8.ValidString(text) {
			t.Fatalf("INVALID_TEXT for valid UTF-8 %q", text)
		}
	case CodeEmptyMessage:
		if strings.TrimFunc(text, func(r rune) bool {
			return r >= 0x300 && r <= 0x36F || strings.ContainsRune("\u00AD\u200B\u200C\u200D\u2060\uFEFF", r)
		}) != "" {
			t.Fatalf("EMPTY_MESSAGE for %q", text)
		}
	case CodeUnsupportedCharacters:
		if opts.AllowUnicode || len(e.Chars) == 0 {
			t.Fatalf("UNSUPPORTED_CHARACTERS with unicode allowed or no characters named: %+v", e)
		}
		for _, ch := range e.Chars {
			if !strings.Contains(text, ch) {
				t.Fatalf("named %q, not in the text", ch)
			}
			if _, ok := replacement([]rune(ch)[0]); ok {
				t.Fatalf("named %q, which has a replacement", ch)
			}
		}
	case CodeMessageTooLong:
		if e.Segments <= e.MaxSegments && e.Characters <= e.MaxCharacters {
			t.Fatalf("MESSAGE_TOO_LONG within limits: %+v", e)
		}
	default:
		t.Fatalf("unexpected error %v for valid options %+v", err, opts)
	}
}

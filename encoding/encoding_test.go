package encoding

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

func rep(s string, n int) string { return strings.Repeat(s, n) }

func TestEncodeBoundaries(t *testing.T) {
	uni := Options{AllowUnicode: true}
	pt := Options{NationalLanguage: Portuguese}
	ptUni := Options{NationalLanguage: Portuguese, AllowUnicode: true}
	es := Options{NationalLanguage: Spanish}
	tr := Options{NationalLanguage: Turkish}
	tests := []struct {
		name     string
		text     string
		opts     Options
		alphabet Alphabet
		locking  Language
		single   Language
		units    []int // per part
		capacity int
	}{
		{"160 septets fit one part", rep("a", 160), Options{}, GSM7, "", "", []int{160}, 160},
		{"161 septets need two", rep("a", 161), Options{}, GSM7, "", "", []int{153, 8}, 153},
		{"306 septets fill two", rep("a", 306), Options{}, GSM7, "", "", []int{153, 153}, 153},
		{"307 septets need three", rep("a", 307), Options{}, GSM7, "", "", []int{153, 153, 1}, 153},
		{"459 septets fill three", rep("a", 459), Options{}, GSM7, "", "", []int{153, 153, 153}, 153},
		{"460 septets need four", rep("a", 460), Options{}, GSM7, "", "", []int{153, 153, 153, 1}, 153},
		{"765 septets fill five", rep("a", 765), Options{}, GSM7, "", "", []int{153, 153, 153, 153, 153}, 153},
		{"80 euro signs are 160 septets", rep("€", 80), Options{}, GSM7, "", "", []int{160}, 160},
		{"81 euro signs: escape pair not split", rep("€", 81), Options{}, GSM7, "", "", []int{152, 10}, 153},
		{"escape at the 153rd septet moves", rep("a", 152) + "{" + rep("a", 10), Options{}, GSM7, "", "", []int{152, 12}, 153},
		{"escape ending at the 153rd septet stays", rep("a", 151) + "{" + rep("a", 10), Options{}, GSM7, "", "", []int{153, 10}, 153},
		{"CR LF at the 153rd septet moves together", rep("a", 152) + "\r\n" + rep("b", 10), Options{}, GSM7, "", "", []int{152, 12}, 153},
		{"70 UCS-2 units fit one part", rep("ж", 70), uni, UCS2, "", "", []int{70}, 70},
		{"71 UCS-2 units need two", rep("ж", 71), uni, UCS2, "", "", []int{67, 4}, 67},
		{"134 UCS-2 units fill two", rep("ж", 134), uni, UCS2, "", "", []int{67, 67}, 67},
		{"135 UCS-2 units need three", rep("ж", 135), uni, UCS2, "", "", []int{67, 67, 1}, 67},
		{"emoji completing 70 units", rep("a", 68) + "😀", uni, UCS2, "", "", []int{70}, 70},
		{"emoji over 70 units", rep("a", 69) + "😀", uni, UCS2, "", "", []int{67, 4}, 67},
		{"emoji at the 67th unit: pair not split", rep("ж", 66) + "😀" + rep("ж", 10), uni, UCS2, "", "", []int{66, 12}, 67},
		{"combining accent kept with its letter", rep("ж", 66) + "e\u0301" + rep("ж", 10), uni, UCS2, "", "", []int{66, 12}, 67},
		{"ZWJ family kept whole", rep("ж", 60) + "👨\u200d👩\u200d👧" + rep("ж", 10), uni, UCS2, "", "", []int{60, 18}, 67},
		{"flags kept whole", rep("ж", 65) + "🇫🇷🇵🇹", uni, UCS2, "", "", []int{65, 8}, 67},
		{"cluster larger than a part split between code points", "a" + rep("\u0301", 80), uni, UCS2, "", "", []int{67, 14}, 67},
		{"pt locking single part 155", rep("ã", 155), pt, GSM7, Portuguese, "", []int{155}, 155},
		{"pt locking 156 needs two of 149", rep("ã", 156), pt, GSM7, Portuguese, "", []int{149, 7}, 149},
		{"pt locking 298 fill two", rep("ã", 298), pt, GSM7, Portuguese, "", []int{149, 149}, 149},
		{"pt locking 299 need three", rep("ã", 299), pt, GSM7, Portuguese, "", []int{149, 149, 1}, 149},
		{"es single shift 155 septets", rep("á", 77) + "a", es, GSM7, "", Spanish, []int{155}, 155},
		{"es single shift escape at 149", rep("á", 78), es, GSM7, "", Spanish, []int{148, 8}, 149},
		{"tr locking 155", rep("ş", 155), tr, GSM7, Turkish, "", []int{155}, 155},
		{"tr locking 156", rep("ş", 156), tr, GSM7, Turkish, "", []int{149, 7}, 149},
		{"pt both tables 152 single", "ªΦ" + rep("a", 149), ptUni, GSM7, Portuguese, Portuguese, []int{152}, 152},
		{"pt both tables 153 → 146 per part", "ªΦ" + rep("a", 150), ptUni, GSM7, Portuguese, Portuguese, []int{146, 7}, 146},
		{"enabled tables unused for plain text", rep("a", 160), pt, GSM7, "", "", []int{160}, 160},
		{"è keeps default locking, á via pt single", "Très bien, olá", ptUni, GSM7, "", Portuguese, []int{15}, 155},
		{"locking cheaper than single shift", rep("ã", 100), ptUni, GSM7, Portuguese, "", []int{100}, 155},
		{"locking preferred to single shift on units", rep("a", 150) + "ç", ptUni, GSM7, Portuguese, "", []int{151}, 155},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Encode(tt.text, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			units := make([]int, len(m.Parts))
			for i, p := range m.Parts {
				units[i] = p.Units
			}
			if m.Alphabet != tt.alphabet || m.Locking != tt.locking || m.Single != tt.single ||
				!reflect.DeepEqual(units, tt.units) || m.Capacity != tt.capacity {
				t.Fatalf("got %s locking=%q single=%q parts %v capacity %d; want %s %q %q %v %d",
					m.Alphabet, m.Locking, m.Single, units, m.Capacity,
					tt.alphabet, tt.locking, tt.single, tt.units, tt.capacity)
			}
			if want := tt.capacity - tt.units[len(tt.units)-1]; m.Remaining != want {
				t.Fatalf("remaining %d, want %d", m.Remaining, want)
			}
			checkAgainstModel(t, tt.text, tt.opts)
		})
	}
}

func TestTransliteration(t *testing.T) {
	m, err := Encode("Café “olá” – ça coûte 5\u00A0€… ‘ok’", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `Café "ola" - ca coute 5 €... 'ok'`; m.Text != want {
		t.Fatalf("text %q, want %q", m.Text, want)
	}
	want := []Replacement{{"“", `"`}, {"á", "a"}, {"”", `"`}, {"–", "-"}, {"ç", "c"}, {"û", "u"},
		{"\u00A0", " "}, {"…", "..."}, {"‘", "'"}, {"’", "'"}}
	if !reflect.DeepEqual(m.Replaced, want) {
		t.Fatalf("replaced %q, want %q", m.Replaced, want)
	}
	if m.Alphabet != GSM7 || len(m.UnicodeChars) != 0 {
		t.Fatalf("got %s unicode chars %q", m.Alphabet, m.UnicodeChars)
	}
	c, _ := Count("Café “olá” – ça coûte 5\u00A0€… ‘ok’", Options{})
	if c.Replacements != 10 { // occurrences: “ á ” – ç û NBSP … ‘ ’
		t.Fatalf("replacements %d, want 10", c.Replacements)
	}
}

func TestTransliterationTargetsFitEveryTable(t *testing.T) {
	check := func(from rune, to string) {
		for _, set := range [][]combo{plainCombos[:], portugueseCombos[:], spanishCombos[:], turkishCombos[:]} {
			for i := range set {
				for j := 0; j < len(to); j++ {
					if to[j] >= utf8.RuneSelf || set[i].cost(flagsOf(rune(to[j]))) != 1 {
						t.Errorf("%q → %q: %q is not one septet in %+v", from, to, to[j], set[i])
					}
				}
			}
		}
	}
	for from, to := range translit {
		check(from, to)
	}
	for r := rune(0xFF01); r <= 0xFF5E; r++ {
		to, ok := replacement(r)
		if !ok || len(to) != 1 {
			t.Fatalf("full-width %q → %q, %v", r, to, ok)
		}
		if to[0] != '[' && to[0] != ']' && to[0] != '{' && to[0] != '}' && to[0] != '\\' && to[0] != '^' &&
			to[0] != '|' && to[0] != '~' {
			check(r, to)
		}
	}
}

func TestUnicodeChars(t *testing.T) {
	tests := []struct {
		text string
		opts Options
		want []string
	}{
		{"Olá 😀 olá 😀", Options{AllowUnicode: true}, []string{"á", "😀"}},
		{"Olá 😀 olá 😀", Options{AllowUnicode: true, NationalLanguage: Portuguese}, []string{"😀"}},
		{"Привет", Options{AllowUnicode: true}, []string{"П", "р", "и", "в", "е", "т"}},
	}
	for _, tt := range tests {
		m, err := Encode(tt.text, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if m.Alphabet != UCS2 || !reflect.DeepEqual(m.UnicodeChars, tt.want) {
			t.Errorf("%q %+v: %s %q, want UCS2 %q", tt.text, tt.opts, m.Alphabet, m.UnicodeChars, tt.want)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		opts Options
		want *Error
	}{
		{"emoji and CJK without unicode", "Hi 😀 中 😀", Options{}, &Error{Code: CodeUnsupportedCharacters, Chars: []string{"😀", "中"}}},
		{"6 parts over default 5", rep("a", 766), Options{}, &Error{Code: CodeMessageTooLong, Segments: 6, MaxSegments: 5, Characters: 766, MaxCharacters: 1600}},
		{"2 parts over a limit of 1", rep("a", 161), Options{MaxSegments: 1}, &Error{Code: CodeMessageTooLong, Segments: 2, MaxSegments: 1, Characters: 161, MaxCharacters: 1600}},
		{"1601 characters", rep("a", 1601), Options{MaxSegments: 255}, &Error{Code: CodeMessageTooLong, Segments: 11, MaxSegments: 255, Characters: 1601, MaxCharacters: 1600}},
		{"UCS-2 6 parts", rep("ж", 336), Options{AllowUnicode: true}, &Error{Code: CodeMessageTooLong, Segments: 6, MaxSegments: 5, Characters: 336, MaxCharacters: 1600}},
		{"empty", "", Options{}, &Error{Code: CodeEmptyMessage}},
		{"only invisible characters", "\u00AD\u200B", Options{}, &Error{Code: CodeEmptyMessage}},
		{"invalid UTF-8", "a\xffb", Options{}, &Error{Code: CodeInvalidText}},
		{"unknown language", "a", Options{NationalLanguage: "fr"}, &Error{Code: CodeInvalidOptions}},
		{"negative max", "a", Options{MaxSegments: -1}, &Error{Code: CodeInvalidOptions}},
		{"max over 255", "a", Options{MaxSegments: 256}, &Error{Code: CodeInvalidOptions}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Encode(tt.text, tt.opts)
			_, cerr := Count(tt.text, tt.opts)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not *Error", err)
			}
			if !errors.Is(cerr, &Error{Code: tt.want.Code}) {
				t.Fatalf("Count error %v, want code %s", cerr, tt.want.Code)
			}
			got := *e
			got.Message = ""
			if !reflect.DeepEqual(&got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, *tt.want)
			}
			if e.Message == "" {
				t.Fatal("empty message")
			}
		})
	}
	if _, err := Encode(rep("a", 766), Options{}); !errors.Is(err, ErrMessageTooLong) || errors.Is(err, ErrUnsupportedCharacters) {
		t.Fatalf("errors.Is does not classify %v by code", err)
	}
}

func TestOverLimitPrefersCandidateWithinLimit(t *testing.T) {
	// With pt tables (no replacement) 762 septets need 6 parts of 149; transliterated to the
	// default alphabet they fit 5 parts of 153.
	text := rep("a", 760) + "ãã"
	m, err := Encode(text, Options{NationalLanguage: Portuguese})
	if err != nil {
		t.Fatal(err)
	}
	if m.Segments() != 5 || m.Locking != NoLanguage || len(m.Replaced) != 1 {
		t.Fatalf("got %d parts locking %q replaced %v", m.Segments(), m.Locking, m.Replaced)
	}
}

func TestTables(t *testing.T) {
	for name, s := range map[string]string{"default": defaultLocking, "pt": portugueseLocking, "tr": turkishLocking} {
		r := []rune(s)
		if len(r) != 128 || r[0x1B] != 0x1B || r[0x0A] != '\n' || r[0x0D] != '\r' || r[0x20] != ' ' {
			t.Errorf("%s locking table malformed", name)
		}
	}
	// Spot checks against 3GPP TS 23.038.
	spots := []struct {
		table string
		code  int
		want  rune
	}{
		{defaultLocking, 0x02, '$'}, {defaultLocking, 0x09, 'Ç'}, {defaultLocking, 0x24, '¤'}, {defaultLocking, 0x06, 'ù'},
		{portugueseLocking, 0x24, 'º'}, {portugueseLocking, 0x12, 'ª'}, {portugueseLocking, 0x15, '∞'}, {portugueseLocking, 0x7D, '`'},
		{turkishLocking, 0x07, 'ı'}, {turkishLocking, 0x40, 'İ'}, {turkishLocking, 0x60, 'ç'}, {turkishLocking, 0x04, '€'},
	}
	for _, s := range spots {
		if got := []rune(s.table)[s.code]; got != s.want {
			t.Errorf("code %#x = %q, want %q", s.code, got, s.want)
		}
	}
	if portugueseSingle[0x1F] != 'Ê' || spanishSingle[0x09] != 'ç' || turkishSingle[0x73] != 'ş' || defaultSingle[0x65] != '€' {
		t.Error("single shift spot checks failed")
	}
	// flagsOf agrees with the model (warthog618/sms tables) on every character of every pair.
	bits := map[Language][2]uint8{NoLanguage: {inDefault, inDefaultExt}, Portuguese: {inPortuguese, inPortugueseExt},
		Spanish: {inDefault, inSpanishExt}, Turkish: {inTurkish, inTurkishExt}}
	for p, costs := range modelTables {
		c := combo{lock: bits[p.lock][0], single: bits[p.single][1]}
		for r, want := range costs {
			if got := c.cost(flagsOf(r)); got != want {
				t.Errorf("%+v: %q costs %d, model %d", p, r, got, want)
			}
		}
		for r := rune(0); r < 0x2300; r++ {
			if c.cost(flagsOf(r)) > 0 && costs[r] == 0 {
				t.Errorf("%+v carries %q, model does not", p, r)
			}
		}
	}
	if flagsOf(0x1B) != 0 {
		t.Error("ESC must not be a character")
	}
}

// TestSimpleRunes checks the grapheme fast path: every code point it calls simple breaks from
// 'a', from itself and from every other simple code point of a sample.
func TestSimpleRunes(t *testing.T) {
	clusters := func(s string) int { return uniseg.GraphemeClusterCount(s) }
	var sample []rune
	for r := rune(0); r < 0x2100; r++ {
		if !simple(r) {
			continue
		}
		if r >= 0x10000 {
			t.Fatalf("%U is outside the BMP", r)
		}
		s := string(r)
		if clusters("a"+s) != 2 || clusters(s+"a") != 2 || clusters(s+s) != 2 || clusters(s+"\n") != 2 || clusters("\n"+s) != 2 {
			t.Errorf("%U is not simple", r)
		}
		if r%37 == 0 {
			sample = append(sample, r)
		}
	}
	for _, a := range sample {
		for _, b := range sample {
			if clusters(string(a)+string(b)) != 2 {
				t.Errorf("%U %U join", a, b)
			}
		}
	}
	if simple('\r') || simple(0x301) || simple(0x200D) || simple(0x1F600) {
		t.Error("CR, combining marks, ZWJ and emoji are not simple")
	}
}

func TestCountDoesNotAllocate(t *testing.T) {
	for _, tc := range []struct {
		text string
		opts Options
	}{
		{rep("Bonjour à tous ! ", 20), Options{}},
		{rep("Ça coûte 5 € “TTC” — merci… ", 8), Options{}},
		{rep("Olá, a sua encomenda está a caminho. ", 6), Options{NationalLanguage: Portuguese}},
		{rep("Merhaba, siparişiniz yola çıktı. ", 6), Options{NationalLanguage: Turkish}},
		{rep("Hi 👋🏽 see you 👨\u200d👩\u200d👧 soon! ", 5), Options{AllowUnicode: true}},
	} {
		var c Counts
		allocs := testing.AllocsPerRun(100, func() {
			c, _ = Count(tc.text, tc.opts)
		})
		if allocs != 0 || c.Segments < 2 {
			t.Errorf("%q: %v allocations, %d segments", tc.text[:20], allocs, c.Segments)
		}
	}
}

func TestCapacity(t *testing.T) {
	for _, tt := range []struct {
		a     Alphabet
		multi bool
		ies   int
		want  int
	}{
		{GSM7, false, 0, 160}, {GSM7, true, 0, 153}, {GSM7, false, 1, 155}, {GSM7, true, 1, 149},
		{GSM7, false, 2, 152}, {GSM7, true, 2, 146}, {UCS2, false, 0, 70}, {UCS2, true, 0, 67},
	} {
		if got := Capacity(tt.a, tt.multi, tt.ies); got != tt.want {
			t.Errorf("Capacity(%s, %v, %d) = %d, want %d", tt.a, tt.multi, tt.ies, got, tt.want)
		}
	}
}

package encoding

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/gsm7/charset"
	"github.com/warthog618/sms/encoding/tpdu"
)

// warthogParts encodes msg with warthog618/sms and returns its alphabet and the units of each
// part (septets for 7-bit, UTF-16 code units for UCS-2).
func warthogParts(t testing.TB, msg string, opts ...sms.EncoderOption) (Alphabet, []int) {
	t.Helper()
	pdus, err := sms.Encode([]byte(msg), opts...)
	if err != nil {
		t.Fatal(err)
	}
	alpha, err := pdus[0].Alphabet()
	if err != nil {
		t.Fatal(err)
	}
	units := make([]int, len(pdus))
	for i, p := range pdus {
		units[i] = len(p.UD)
		if alpha == tpdu.AlphaUCS2 {
			units[i] /= 2
		}
	}
	if alpha == tpdu.AlphaUCS2 {
		return UCS2, units
	}
	return GSM7, units
}

func partUnits(m Message) []int {
	u := make([]int, len(m.Parts))
	for i, p := range m.Parts {
		u[i] = p.Units
	}
	return u
}

// TestOracleWarthog compares alphabet and part sizes with warthog618/sms where the semantics
// match: the default alphabet or UCS-2 (its default), texts whose grapheme clusters are single
// code points (it splits by code point, see TestWarthogDifferences), no CR, no ESC.
func TestOracleWarthog(t *testing.T) {
	pool := []rune("abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789.,!?'\"-@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉÄÖÑÜ§¿äöñüà\n" +
		"{}[]~|^\\€\f" + // extension: 2 septets
		"жЖпПяЯ中文أ" + // BMP, not GSM
		"😀🎉👍🚀🙂") // outside the BMP: surrogate pairs
	rng := rand.New(rand.NewPCG(1, 2))
	var texts []string
	for _, n := range []int{1, 69, 70, 71, 152, 153, 160, 161, 306, 307, 459, 460, 800} {
		texts = append(texts, strings.Repeat("a", n), strings.Repeat("€", n/2+1), strings.Repeat("ж", n), strings.Repeat("😀", n/2+1))
	}
	for i := 0; i < 3000; i++ {
		n := 1 + rng.IntN(700)
		var b strings.Builder
		// Mostly one class so that both GSM-7 and UCS-2 long messages occur.
		gsmOnly := rng.IntN(3) > 0
		for j := 0; j < n; j++ {
			r := pool[rng.IntN(len(pool))]
			if gsmOnly && flagsOf(r) == 0 {
				r = 'x'
			}
			b.WriteRune(r)
		}
		texts = append(texts, b.String())
	}
	for _, text := range texts {
		m, err := Encode(text, Options{AllowUnicode: true, MaxSegments: 255})
		if err != nil {
			continue // over 1,600 characters: warthog has no limit
		}
		alpha, units := warthogParts(t, text)
		if m.Alphabet != alpha || !reflect.DeepEqual(partUnits(m), units) {
			t.Fatalf("%q:\n ours     %s %v\n warthog %s %v", text, m.Alphabet, partUnits(m), alpha, units)
		}
	}
}

// TestOracleWarthogNational compares capacities with national tables on texts where warthog's
// first-fit choice is also the cheapest (one table suffices).
func TestOracleWarthogNational(t *testing.T) {
	for _, tt := range []struct {
		text string
		lang Language
		nli  int
	}{
		{strings.Repeat("ã", 155), Portuguese, charset.Portuguese},
		{strings.Repeat("ã", 200), Portuguese, charset.Portuguese},
		{strings.Repeat("á", 100), Spanish, charset.Spanish},
		{strings.Repeat("á", 77) + "a", Spanish, charset.Spanish},
		{strings.Repeat("ş", 400), Turkish, charset.Turkish},
	} {
		m, err := Encode(tt.text, Options{AllowUnicode: true, NationalLanguage: tt.lang})
		if err != nil {
			t.Fatal(err)
		}
		alpha, units := warthogParts(t, tt.text, sms.WithCharset(tt.nli))
		if m.Alphabet != alpha || !reflect.DeepEqual(partUnits(m), units) {
			t.Errorf("%s %q: ours %v, warthog %v", tt.lang, tt.text[:4], partUnits(m), units)
		}
	}
}

// TestWarthogDifferences pins where we deliberately differ from warthog618/sms v0.3.0, so a
// change on either side is noticed.
func TestWarthogDifferences(t *testing.T) {
	uni := Options{AllowUnicode: true}
	for _, tt := range []struct {
		why     string
		text    string
		opts    Options
		ours    []int
		warthog []int
		wOpts   []sms.EncoderOption
	}{
		{"it splits a grapheme cluster (e + combining acute)", strings.Repeat("ж", 66) + "e\u0301" + strings.Repeat("ж", 10),
			uni, []int{66, 12}, []int{67, 11}, nil},
		{"it splits CR LF", strings.Repeat("a", 152) + "\r\n" + strings.Repeat("b", 10),
			Options{}, []int{152, 12}, []int{153, 11}, nil},
		// Ê is only in the PT locking table there, è only in the default one: it falls back to
		// UCS-2 (2 parts) where default locking + PT single shift needs 1 part of GSM-7.
		{"Ê is missing from its Portuguese single shift table (23.038 0x1F)", "Ê è " + strings.Repeat("a", 100),
			Options{AllowUnicode: true, NationalLanguage: Portuguese}, []int{105}, []int{67, 37}, []sms.EncoderOption{sms.WithCharset(charset.Portuguese)}},
	} {
		m, err := Encode(tt.text, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		_, w := warthogParts(t, tt.text, tt.wOpts...)
		if !reflect.DeepEqual(partUnits(m), tt.ours) || !reflect.DeepEqual(w, tt.warthog) {
			t.Errorf("%s: ours %v (want %v), warthog %v (want %v)", tt.why, partUnits(m), tt.ours, w, tt.warthog)
		}
	}
}

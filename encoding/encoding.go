// Package encoding chooses how an SMS text is encoded (GSM-7, GSM-7 with national language shift
// tables, or UCS-2), what is sent after transliteration, and how it is split into concatenated
// parts, following 3GPP TS 23.038 (alphabets) and TS 23.040 (user data headers).
//
// Count answers the billing questions (encoding, parts, units) without allocating; Encode also
// returns the text as sent, each part, the replacements made and the characters that forced
// UCS-2. Both take the same decisions.
//
// Capacities assume the 8-bit concatenation reference (IE 0x00, 6-octet UDH): GSM-7 160/153
// septets, UCS-2 70/67 UTF-16 code units. Each national language IE (single or locking shift)
// adds 3 octets to the header: 155/149 with one, 152/146 with both.
package encoding

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"
)

// Alphabet is the data coding of the parts.
type Alphabet string

const (
	GSM7 Alphabet = "GSM7" // 7-bit default alphabet, possibly with national shift tables
	UCS2 Alphabet = "UCS2" // UTF-16; characters outside the BMP take two units
)

// Language names a national language shift table set (TS 23.038 Annex A).
type Language string

const (
	NoLanguage Language = ""
	Portuguese Language = "pt" // locking and single shift tables
	Spanish    Language = "es" // single shift table only
	Turkish    Language = "tr" // locking and single shift tables
)

const (
	// DefaultMaxSegments applies when Options.MaxSegments is zero.
	DefaultMaxSegments = 5
	// MaxCharacters is the hard limit on characters (code points) of the text as sent.
	MaxCharacters = 1600
	// maxParts is what the 8-bit concatenation IE can number.
	maxParts = 255
)

// Options say what the sender allows.
type Options struct {
	// AllowUnicode lets the message go as UCS-2 when GSM-7 cannot carry it. When false,
	// characters no enabled table carries are transliterated, or the message is refused.
	AllowUnicode bool
	// NationalLanguage enables that language's shift tables (handset support varies, so the
	// caller decides). The cheapest combination is chosen, the default alphabet included.
	NationalLanguage Language
	// MaxSegments caps the number of parts; 0 means DefaultMaxSegments, at most 255.
	MaxSegments int
}

// Part is one SMS of a concatenated message.
type Part struct {
	Text  string
	Units int // septets (GSM-7, an extension character counts 2) or UTF-16 code units (UCS-2)
}

// Replacement records one transliteration: From was sent as To (To may be empty: dropped).
type Replacement struct {
	From string
	To   string
}

// Message is an encoded text, ready to be sent part by part.
type Message struct {
	Alphabet Alphabet
	// Locking and Single name the national tables in use ("" = default alphabet / extension).
	Locking Language
	Single  Language
	// Text is what is sent: the input after transliteration.
	Text  string
	Parts []Part
	// Units is the total over all parts.
	Units int
	// Capacity is the units one part holds: single-part or multipart capacity.
	Capacity int
	// Remaining is the units left in the last part.
	Remaining int
	// Characters counts code points of Text.
	Characters int
	// UnicodeChars are the characters that forced UCS-2, once each, in order of appearance.
	UnicodeChars []string
	// Replaced lists each distinct transliteration, in order of appearance.
	Replaced []Replacement
}

// Segments is the number of parts.
func (m Message) Segments() int { return len(m.Parts) }

// NationalLanguage is the language whose tables are in use, or "".
func (m Message) NationalLanguage() Language {
	if m.Locking != NoLanguage {
		return m.Locking
	}
	return m.Single
}

// Counts is what Count reports: the decisions of Encode without the texts.
type Counts struct {
	Alphabet     Alphabet
	Locking      Language
	Single       Language
	Segments     int
	Units        int
	Capacity     int
	Remaining    int
	Characters   int
	Replacements int // characters replaced (occurrences)
}

// NationalLanguage is the language whose tables are in use, or "".
func (c Counts) NationalLanguage() Language {
	if c.Locking != NoLanguage {
		return c.Locking
	}
	return c.Single
}

// Code classifies an Error.
type Code string

const (
	CodeUnsupportedCharacters Code = "UNSUPPORTED_CHARACTERS"
	CodeMessageTooLong        Code = "MESSAGE_TOO_LONG"
	CodeEmptyMessage          Code = "EMPTY_MESSAGE"
	CodeInvalidText           Code = "INVALID_TEXT" // not valid UTF-8
	CodeInvalidOptions        Code = "INVALID_OPTIONS"
)

// Error is every error this package returns; classify it by Code (errors.As, or errors.Is with
// the Err* values), never by its text.
type Error struct {
	Code    Code
	Message string
	// Chars names the characters with no GSM-7 equivalent (UNSUPPORTED_CHARACTERS).
	Chars []string
	// Segments and Characters are what the message needs, with their limits (MESSAGE_TOO_LONG).
	Segments, MaxSegments     int
	Characters, MaxCharacters int
}

func (e *Error) Error() string { return e.Message }

// Is matches any *Error with the same Code, so errors.Is(err, ErrMessageTooLong) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Values for errors.Is.
var (
	ErrUnsupportedCharacters = &Error{Code: CodeUnsupportedCharacters, Message: "unsupported characters"}
	ErrMessageTooLong        = &Error{Code: CodeMessageTooLong, Message: "message too long"}
	ErrEmptyMessage          = &Error{Code: CodeEmptyMessage, Message: "empty message"}
	ErrInvalidText           = &Error{Code: CodeInvalidText, Message: "text is not valid UTF-8"}
	ErrInvalidOptions        = &Error{Code: CodeInvalidOptions, Message: "invalid options"}
)

// combo is one choice of locking and single shift tables.
type combo struct {
	lock, single         uint8
	lockLang, singleLang Language
	ies                  int        // national language IEs in the UDH
	costs                [128]uint8 // septets by rune flags (0: not carried); set by init
}

func init() {
	for _, set := range [][]combo{plainCombos[:], portugueseCombos[:], spanishCombos[:], turkishCombos[:]} {
		for k := range set {
			for f := range set[k].costs {
				set[k].costs[f] = uint8(set[k].cost(uint8(f)))
			}
		}
	}
}

// cost is the septets r (with flags f) takes under c, or 0 if c does not carry it.
func (c *combo) cost(f uint8) int {
	if f&c.lock != 0 {
		return 1
	}
	if f&c.single != 0 {
		return 2
	}
	return 0
}

// Candidates in order of preference when everything else ties.
var (
	plainCombos      = [...]combo{{lock: inDefault, single: inDefaultExt}}
	portugueseCombos = [...]combo{
		{lock: inDefault, single: inDefaultExt},
		{lock: inDefault, single: inPortugueseExt, singleLang: Portuguese, ies: 1},
		{lock: inPortuguese, single: inDefaultExt, lockLang: Portuguese, ies: 1},
		{lock: inPortuguese, single: inPortugueseExt, lockLang: Portuguese, singleLang: Portuguese, ies: 2},
	}
	spanishCombos = [...]combo{
		{lock: inDefault, single: inDefaultExt},
		{lock: inDefault, single: inSpanishExt, singleLang: Spanish, ies: 1},
	}
	turkishCombos = [...]combo{
		{lock: inDefault, single: inDefaultExt},
		{lock: inDefault, single: inTurkishExt, singleLang: Turkish, ies: 1},
		{lock: inTurkish, single: inDefaultExt, lockLang: Turkish, ies: 1},
		{lock: inTurkish, single: inTurkishExt, lockLang: Turkish, singleLang: Turkish, ies: 2},
	}
)

const maxCombos = 4

// Capacity returns the units one part holds: GSM-7 septets or UCS-2 code units, for a single
// part or one of several, with nationalIEs national language IEs in the header (GSM-7 only).
// Septets lost to the header are ceil((UDHL+1)*8/7), fill bits included (TS 23.040 9.2.3.24).
func Capacity(a Alphabet, multipart bool, nationalIEs int) int {
	udhl := 3 * nationalIEs
	if multipart {
		udhl += 5 // IEI 0x00, length 3, reference, total, sequence
	}
	if a == UCS2 {
		octets := 140
		if udhl > 0 {
			octets -= udhl + 1
		}
		return octets / 2
	}
	if udhl == 0 {
		return 160
	}
	return 160 - ((udhl+1)*8+6)/7
}

// tally is what one candidate costs.
type tally struct {
	irregular   int // characters of 2 septets: parts may end one septet short
	units       int
	chars       int // code points as sent
	replaced    int
	unsupported int
}

// plan is the decision shared by Count and Encode.
type plan struct {
	alphabet  Alphabet
	combo     *combo // nil for UCS-2
	units     int
	chars     int
	replaced  int
	segments  int
	capacity  int
	remaining int
	exact     bool // segments and remaining are known; else segments is a lower bound
	upper     int  // when not exact: most parts it may need
	irregular bool // a part may end short (2-septet characters, CR LF, grapheme clusters)
}

func (o Options) validate() (int, []combo, error) {
	limit := o.MaxSegments
	if limit == 0 {
		limit = DefaultMaxSegments
	}
	if limit < 0 || limit > maxParts {
		return 0, nil, &Error{Code: CodeInvalidOptions,
			Message: fmt.Sprintf("max segments must be between 1 and %d, got %d", maxParts, o.MaxSegments)}
	}
	switch o.NationalLanguage {
	case NoLanguage:
		return limit, plainCombos[:], nil
	case Portuguese:
		return limit, portugueseCombos[:], nil
	case Spanish:
		return limit, spanishCombos[:], nil
	case Turkish:
		return limit, turkishCombos[:], nil
	}
	return 0, nil, &Error{Code: CodeInvalidOptions,
		Message: fmt.Sprintf("national language must be one of \"\", \"pt\", \"es\", \"tr\", got %q", o.NationalLanguage)}
}

// decide scans text once per candidate set and picks the encoding. It does not allocate unless
// it returns an error.
func decide(text string, opts Options, rec *recorder) (plan, error) {
	maxSegs, combos, err := opts.validate()
	if err != nil {
		return plan{}, err
	}
	if text == "" {
		return plan{}, &Error{Code: CodeEmptyMessage, Message: "message is empty"}
	}
	if !utf8.ValidString(text) {
		i := 0
		for {
			r, n := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return plan{}, &Error{Code: CodeInvalidText, Message: fmt.Sprintf("text is not valid UTF-8 at byte %d", i)}
	}
	var t [maxCombos]tally
	tallyGSM(text, combos, opts.AllowUnicode, &t)
	feasible := 0
	for k := range combos {
		if t[k].unsupported == 0 {
			feasible++
		}
	}

	best := -1
	var bestPlan plan
	var bestOver bool
	hasCR := strings.IndexByte(text, '\r') >= 0
	for k := range combos {
		tk := &t[k]
		if tk.unsupported > 0 {
			continue
		}
		p := plan{alphabet: GSM7, combo: &combos[k], units: tk.units, chars: tk.chars, replaced: tk.replaced,
			irregular: tk.irregular > 0 || hasCR}
		p.estimate()
		if best >= 0 && !betterGSM(p.overAt(p.segments, maxSegs), &p, bestOver, &bestPlan) {
			continue // cannot win even with its fewest parts
		}
		if !p.exact && p.segments != p.upper {
			if feasible == 1 {
				p.walk(text, rec)
			} else {
				p.walk(text, nil)
			}
		}
		over := p.overAt(p.segments, maxSegs)
		if best < 0 || betterGSM(over, &p, bestOver, &bestPlan) {
			best, bestPlan, bestOver = k, p, over
		}
	}
	if best < 0 {
		if !opts.AllowUnicode {
			k := fewestUnsupported(t[:len(combos)])
			chars := uncarried(text, &combos[k], true)
			return plan{}, &Error{Code: CodeUnsupportedCharacters, Chars: chars,
				Message: "characters with no GSM-7 equivalent: " + describe(chars) +
					"; allow unicode to send them"}
		}
		runes, units := utf16Count(text)
		bestPlan = plan{alphabet: UCS2, units: units, chars: runes, irregular: true}
		bestPlan.estimate()
	}
	if !bestPlan.exact {
		bestPlan.walk(text, rec)
	}
	p := bestPlan
	if p.units == 0 {
		return plan{}, &Error{Code: CodeEmptyMessage, Message: "message is empty once invisible characters are removed"}
	}
	if p.segments > maxSegs || p.chars > MaxCharacters {
		return plan{}, &Error{Code: CodeMessageTooLong,
			Segments: p.segments, MaxSegments: maxSegs, Characters: p.chars, MaxCharacters: MaxCharacters,
			Message: fmt.Sprintf("message needs %d parts (limit %d) and has %d characters (limit %d)",
				p.segments, maxSegs, p.chars, MaxCharacters)}
	}
	return p, nil
}

// betterGSM ranks candidates: within the limits first, then fewest replaced characters (the
// caller enabled national tables to keep their letters), fewest parts, fewest header IEs (wider
// handset support), fewest units; earlier candidates win ties.
func betterGSM(over bool, p *plan, bestOver bool, best *plan) bool {
	if over != bestOver {
		return !over
	}
	if p.replaced != best.replaced {
		return p.replaced < best.replaced
	}
	if p.segments != best.segments {
		return p.segments < best.segments
	}
	if p.combo.ies != best.combo.ies {
		return p.combo.ies < best.combo.ies
	}
	return p.units < best.units
}

// tallyGSM costs text under every candidate. With unicode allowed it stops at the first
// character no candidate carries: GSM-7 is then impossible.
func tallyGSM(text string, combos []combo, allowUnicode bool, t *[maxCombos]tally) {
	if len(combos) == 1 {
		c, tk := &combos[0], &t[0]
		for _, r := range text {
			if u := c.costs[flagsOf(r)]; u > 0 {
				tk.units += int(u)
				tk.chars++
				if u > 1 {
					tk.irregular++
				}
				continue
			}
			if allowUnicode {
				tk.unsupported++
				return
			}
			tk.transliterate(c, r)
		}
		return
	}
	// Runes every candidate carries only need counting by flags: a histogram, costed per
	// candidate at the end over the flag values seen.
	var carried uint8 // a rune with none of these flags is carried by no candidate
	for k := range combos {
		carried |= combos[k].lock | combos[k].single
	}
	var hist [128]int32
	var seen [2]uint64
	for _, r := range text {
		f := flagsOf(r)
		if allowUnicode {
			if f&carried == 0 {
				for k := range combos {
					t[k].unsupported++
				}
				return
			}
		} else if !carriedByAll(combos, f) {
			for k := range combos {
				c, tk := &combos[k], &t[k]
				if u := c.costs[f]; u > 0 {
					tk.units += int(u)
					tk.chars++
					if u > 1 {
						tk.irregular++
					}
				} else {
					tk.transliterate(c, r)
				}
			}
			continue
		}
		hist[f]++
		seen[f>>6] |= 1 << (f & 63)
	}
	for w, bitsLeft := range seen {
		for bitsLeft != 0 {
			f := w<<6 | bits.TrailingZeros64(bitsLeft)
			bitsLeft &= bitsLeft - 1
			n := int(hist[f])
			for k := range combos {
				if u := int(combos[k].costs[f]); u > 0 {
					t[k].units += u * n
					t[k].chars += n
					if u > 1 {
						t[k].irregular += n
					}
				} else {
					t[k].unsupported += n
				}
			}
		}
	}
}

func carriedByAll(combos []combo, f uint8) bool {
	for k := range combos {
		if combos[k].costs[f] == 0 {
			return false
		}
	}
	return true
}

func (tk *tally) transliterate(c *combo, r rune) {
	s, ok := replacement(r)
	if !ok {
		tk.unsupported++
		return
	}
	u := c.costString(s)
	if u != len(s) {
		tk.irregular++
	}
	tk.units += u
	tk.chars += len(s)
	tk.replaced++
}

// utf16Count counts the code points of valid UTF-8 text and its UTF-16 code units (a code point
// outside the BMP, a 4-byte sequence, takes two).
func utf16Count(text string) (runes, units int) {
	for i := 0; i < len(text); i++ {
		b := text[i]
		if b&0xC0 != 0x80 {
			runes++
		}
		if b >= 0xF0 {
			units++
		}
	}
	return runes, runes + units
}

func fewestUnsupported(t []tally) int {
	k := 0
	for i := range t {
		if t[i].unsupported < t[k].unsupported {
			k = i
		}
	}
	return k
}

// estimate sets capacity and segments without walking the text: exactly for one part or when
// every part is filled to the last unit; otherwise the fewest and most parts possible (a part
// ends at most one unit short in GSM-7, where pieces are 1 or 2 septets).
func (p *plan) estimate() {
	ies := 0
	if p.combo != nil {
		ies = p.combo.ies
	}
	single := Capacity(p.alphabet, false, ies)
	if p.units <= single {
		p.segments, p.capacity, p.remaining, p.exact = 1, single, single-p.units, true
		return
	}
	multi := Capacity(p.alphabet, true, ies)
	p.capacity = multi
	p.segments = (p.units + multi - 1) / multi
	if !p.irregular {
		p.remaining, p.exact = p.segments*multi-p.units, true
		return
	}
	p.upper = (p.units-1)/(multi-1) + 1
	if p.alphabet == UCS2 {
		p.upper = p.units // a grapheme cluster may waste most of a part
	}
}

func (p *plan) overAt(segments, maxSegs int) bool {
	return segments > maxSegs || p.chars > MaxCharacters
}

// walk finds the exact parts of a multipart plan; rec, when set, keeps them for Encode.
func (p *plan) walk(text string, rec *recorder) {
	sp := splitter{capacity: p.capacity, parts: 1}
	var out *gsmOut
	if rec != nil {
		sp.record, sp.cuts, out = true, make([]cut, 0, p.segments), &rec.out
	}
	if p.combo != nil {
		walkGSM(text, p.combo, &sp, out)
	} else {
		walkUCS2(text, &sp)
	}
	p.segments, p.remaining, p.exact = sp.parts, sp.capacity-sp.used, true
	if rec != nil {
		rec.sp, rec.walked = sp, true
	}
}

// recorder keeps what the deciding walk saw when only one candidate was walked, so Encode does
// not walk again.
type recorder struct {
	sp     splitter
	out    gsmOut
	walked bool
}

func (c *combo) costString(s string) int {
	u := 0
	for i := 0; i < len(s); i++ {
		u += int(c.costs[flagTable[s[i]]])
	}
	return u
}

func utf16Len(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// uncarried lists, once each, the characters c cannot carry (after transliteration when
// translit is set).
func uncarried(text string, c *combo, translit bool) []string {
	var out []string
	var seen [flagTableSize / 64]uint64 // code points below U+0400 already listed
	for i, r := range text {
		if c.costs[flagsOf(r)] > 0 {
			continue
		}
		if translit {
			if _, ok := replacement(r); ok {
				continue
			}
		}
		ch := text[i : i+utf8.RuneLen(r)]
		if out == nil {
			out = make([]string, 0, 8)
		}
		if r < flagTableSize {
			if seen[r>>6]&(1<<(r&63)) != 0 {
				continue
			}
			seen[r>>6] |= 1 << (r & 63)
		} else if slices.Contains(out, ch) {
			continue
		}
		out = append(out, ch)
	}
	return out
}

func describe(chars []string) string {
	var b strings.Builder
	for i, s := range chars {
		if i > 0 {
			b.WriteString(", ")
		}
		r, _ := utf8.DecodeRuneInString(s)
		fmt.Fprintf(&b, "%q (U+%04X)", s, r)
	}
	return b.String()
}

// Count reports the encoding, parts and units of text without building the parts. It does not
// allocate unless it returns an error.
func Count(text string, opts Options) (Counts, error) {
	p, err := decide(text, opts, nil)
	if err != nil {
		return Counts{}, err
	}
	c := Counts{Alphabet: p.alphabet, Segments: p.segments, Units: p.units, Capacity: p.capacity,
		Remaining: p.remaining, Characters: p.chars, Replacements: p.replaced}
	if p.combo != nil {
		c.Locking, c.Single = p.combo.lockLang, p.combo.singleLang
	}
	return c, nil
}

// Encode returns text as it will be sent: encoding, transliterated text and its parts.
func Encode(text string, opts Options) (Message, error) {
	var rec recorder
	p, err := decide(text, opts, &rec)
	if err != nil {
		return Message{}, err
	}
	m := Message{Alphabet: p.alphabet, Units: p.units, Capacity: p.capacity, Remaining: p.remaining,
		Characters: p.chars}
	if p.combo != nil {
		m.Locking, m.Single = p.combo.lockLang, p.combo.singleLang
	} else {
		m.UnicodeChars = forcedUCS2(text, opts)
	}
	switch {
	case rec.walked:
	case p.segments == 1 && p.replaced == 0:
		m.Text, m.Parts = text, []Part{{Text: text, Units: p.units}}
		return m, nil
	default:
		rec.sp = splitter{capacity: p.capacity, parts: 1, record: true, cuts: make([]cut, 0, p.segments-1)}
		if p.combo != nil {
			walkGSM(text, p.combo, &rec.sp, &rec.out)
		} else {
			walkUCS2(text, &rec.sp)
		}
	}
	m.Text = text
	if p.combo != nil {
		m.Text, m.Replaced = rec.out.finish(text), rec.out.replaced
	}
	m.Parts = make([]Part, 0, rec.sp.parts)
	start := 0
	for _, c := range rec.sp.cuts {
		m.Parts = append(m.Parts, Part{Text: m.Text[start:c.off], Units: c.units})
		start = c.off
	}
	m.Parts = append(m.Parts, Part{Text: m.Text[start:], Units: rec.sp.used})
	return m, nil
}

// forcedUCS2 names the characters not carried by the enabled candidate that carries most.
func forcedUCS2(text string, opts Options) []string {
	_, combos, _ := opts.validate()
	if len(combos) == 1 {
		return uncarried(text, &combos[0], false)
	}
	var missing [maxCombos]int
	for _, r := range text {
		f := flagsOf(r)
		for k := range combos {
			if combos[k].costs[f] == 0 {
				missing[k]++
			}
		}
	}
	best := 0
	for k := range combos {
		if missing[k] < missing[best] {
			best = k
		}
	}
	return uncarried(text, &combos[best], false)
}

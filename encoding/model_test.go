package encoding

import (
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"github.com/warthog618/sms/encoding/gsm7/charset"
)

// An independent, deliberately naive model of the rules, used by the fuzz and table tests. Its
// tables come from warthog618/sms (not from this package), its grapheme clusters from uniseg's
// Graphemes iterator (not the fast path), its capacities from the reference table.

// modelCosts maps each character a (locking, single) table pair carries to its septets.
func modelCosts(lock, single Language) map[rune]int {
	nli := map[Language]int{Portuguese: charset.Portuguese, Spanish: charset.Spanish, Turkish: charset.Turkish}
	ext := charset.DefaultExtEncoder()
	if single != NoLanguage {
		ext = charset.NewExtEncoder(nli[single])
	}
	base := charset.DefaultEncoder()
	if lock != NoLanguage {
		base = charset.NewEncoder(nli[lock])
	}
	costs := map[rune]int{}
	for r := range ext {
		costs[r] = 2
	}
	if single == Portuguese {
		costs['Ê'] = 2 // 23.038 A.3.3 0x1F; missing from warthog618/sms v0.3.0 (its PR #9)
	}
	for r := range base {
		costs[r] = 1
	}
	delete(costs, 0x1B) // the escape code is not a character
	return costs
}

type modelPair struct{ lock, single Language }

var modelTables = func() map[modelPair]map[rune]int {
	m := map[modelPair]map[rune]int{}
	for _, p := range []modelPair{{}, {NoLanguage, Portuguese}, {Portuguese, NoLanguage}, {Portuguese, Portuguese},
		{NoLanguage, Spanish}, {NoLanguage, Turkish}, {Turkish, NoLanguage}, {Turkish, Turkish}} {
		m[p] = modelCosts(p.lock, p.single)
	}
	return m
}()

// modelPairs are the table pairs a language option enables.
func modelPairs(l Language) []modelPair {
	switch l {
	case Portuguese, Turkish:
		return []modelPair{{}, {NoLanguage, l}, {l, NoLanguage}, {l, l}}
	case Spanish:
		return []modelPair{{}, {NoLanguage, Spanish}}
	}
	return []modelPair{{}}
}

func (p modelPair) ies() int {
	n := 0
	if p.lock != NoLanguage {
		n++
	}
	if p.single != NoLanguage {
		n++
	}
	return n
}

// modelCapacity is the reference capacity table, single and multipart.
func modelCapacity(a Alphabet, ies int) (single, multi int) {
	if a == UCS2 {
		return 70, 67
	}
	return [...]int{160, 155, 152}[ies], [...]int{153, 149, 146}[ies]
}

// modelCarries reports whether every character of text is in the pair's tables.
func modelCarries(p modelPair, text string) bool {
	costs := modelTables[p]
	for _, r := range text {
		if costs[r] == 0 {
			return false
		}
	}
	return true
}

type modelPart struct {
	text  string
	units int
}

// modelSplit splits text greedily by grapheme clusters; a cluster larger than a part is split
// between code points. cost gives each code point's units.
func modelSplit(text string, cost func(rune) int, single, multi int) []modelPart {
	total := 0
	for _, r := range text {
		total += cost(r)
	}
	if total <= single {
		return []modelPart{{text, total}}
	}
	var parts []modelPart
	start, used := 0, 0
	put := func(off, c int) {
		if used+c > multi {
			parts = append(parts, modelPart{text[start:off], used})
			start, used = off, 0
		}
		used += c
	}
	g := uniseg.NewGraphemes(text)
	for g.Next() {
		from, _ := g.Positions()
		c := 0
		for _, r := range g.Str() {
			c += cost(r)
		}
		if c <= multi {
			put(from, c)
			continue
		}
		for i, r := range g.Str() {
			put(from+i, cost(r))
		}
	}
	return append(parts, modelPart{text[start:], used})
}

func modelUTF16(r rune) int {
	if r > 0xFFFF {
		return 2
	}
	return 1
}

// modelEncode splits text as the model would under pair p (GSM7) or UCS-2 (p == nil).
func modelEncode(text string, p *modelPair) []modelPart {
	if p == nil {
		s, m := modelCapacity(UCS2, 0)
		return modelSplit(text, modelUTF16, s, m)
	}
	costs := modelTables[*p]
	s, m := modelCapacity(GSM7, p.ies())
	return modelSplit(text, func(r rune) int { return costs[r] }, s, m)
}

func modelRunes(s string) int { return utf8.RuneCountInString(s) }

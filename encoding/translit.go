package encoding

// Transliteration, used only when the caller does not allow unicode: each character no enabled
// GSM table carries is replaced by the nearest GSM-7 text below. Every replacement is plain ASCII
// from the default alphabet, so it fits every locking table. A character absent from this map
// has no sensible equivalent (emoji, CJK, Cyrillic, …): encoding fails with
// UNSUPPORTED_CHARACTERS rather than sending '?'.
//
// Rules beyond the map:
//   - full-width ASCII forms U+FF01–U+FF5E become their ASCII character;
//   - combining diacritical marks U+0300–U+036F are dropped ("e" + U+0301 → "e");
//   - format characters that show nothing (soft hyphen, zero-width space/joiners, BOM, word
//     joiner) are dropped.
//
// Characters that are already in the default alphabet (è, ñ, ß, …) appear here too: they need a
// replacement only when a national locking table that lacks them is in use, and the selection
// prefers a combination without replacements anyway.
var translit = map[rune]string{
	// Latin letters with diacritics (uppercase then lowercase).
	'À': "A", 'Á': "A", 'Â': "A", 'Ã': "A", 'Ä': "A", 'Å': "A", 'Ā': "A", 'Ă': "A", 'Ą': "A",
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'ā': "a", 'ă': "a", 'ą': "a",
	'Æ': "AE", 'æ': "ae", 'Œ': "OE", 'œ': "oe", 'ß': "ss",
	'Ç': "C", 'Ć': "C", 'Č': "C", 'ç': "c", 'ć': "c", 'č': "c",
	'Ď': "D", 'ď': "d", 'Đ': "D", 'đ': "d", 'Ð': "D", 'ð': "d",
	'È': "E", 'É': "E", 'Ê': "E", 'Ë': "E", 'Ē': "E", 'Ė': "E", 'Ę': "E", 'Ě': "E",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ē': "e", 'ė': "e", 'ę': "e", 'ě': "e",
	'Ğ': "G", 'ğ': "g",
	'Ì': "I", 'Í': "I", 'Î': "I", 'Ï': "I", 'İ': "I", 'Ī': "I", 'Į': "I",
	'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ı': "i", 'ī': "i", 'į': "i",
	'Ł': "L", 'ł': "l", 'Ľ': "L", 'ľ': "l",
	'Ñ': "N", 'Ń': "N", 'Ň': "N", 'ñ': "n", 'ń': "n", 'ň': "n",
	'Ò': "O", 'Ó': "O", 'Ô': "O", 'Õ': "O", 'Ö': "O", 'Ø': "O", 'Ō': "O", 'Ő': "O",
	'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o", 'ō': "o", 'ő': "o",
	'Ř': "R", 'ř': "r",
	'Ś': "S", 'Ş': "S", 'Š': "S", 'ś': "s", 'ş': "s", 'š': "s",
	'Ť': "T", 'ť': "t", 'Ţ': "T", 'ţ': "t", 'Þ': "TH", 'þ': "th",
	'Ù': "U", 'Ú': "U", 'Û': "U", 'Ü': "U", 'Ū': "U", 'Ů': "U", 'Ű': "U",
	'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ū': "u", 'ů': "u", 'ű': "u",
	'Ý': "Y", 'Ÿ': "Y", 'ý': "y", 'ÿ': "y",
	'Ź': "Z", 'Ż': "Z", 'Ž': "Z", 'ź': "z", 'ż': "z", 'ž': "z",
	'ª': "a", 'º': "o",

	// Punctuation and symbols.
	'‘': "'", '’': "'", '‚': "'", '‛': "'", '′': "'", '´': "'", '`': "'",
	'“': "\"", '”': "\"", '„': "\"", '‟': "\"", '″': "\"", '«': "\"", '»': "\"",
	'‹': "'", '›': "'",
	'‐': "-", '‑': "-", '‒': "-", '–': "-", '—': "-", '―': "-", '−': "-", '•': "-",
	'…': "...", '·': ".",
	'¡': "!", '¿': "?",
	'©': "(c)", '®': "(R)", '™': "TM",
	'°': "o", '×': "x",
	'∞': "oo",

	// Spaces: no-break, narrow no-break (French before ; : ! ?), thin, en/em, ideographic, tab.
	'\t': " ", '\u00A0': " ", '\u2000': " ", '\u2001': " ", '\u2002': " ", '\u2003': " ",
	'\u2004': " ", '\u2005': " ", '\u2006': " ", '\u2007': " ", '\u2008': " ", '\u2009': " ",
	'\u200A': " ", '\u202F': " ", '\u205F': " ", '\u3000': " ",
	// Line and paragraph separators.
	'\u2028': "\n", '\u2029': "\n",

	// Invisible format characters: dropped.
	'\u00AD': "", '\u200B': "", '\u200C': "", '\u200D': "", '\u2060': "", '\uFEFF': "",
}

// asciiStrings holds each ASCII character as a string, so replacements never allocate.
var asciiStrings = func() (s [128]string) {
	for i := range s {
		s[i] = string(rune(i))
	}
	return s
}()

// replacement returns the GSM-7 text that stands for r when no enabled table carries it.
func replacement(r rune) (string, bool) {
	if s, ok := translit[r]; ok {
		return s, true
	}
	switch {
	case r >= 0x0300 && r <= 0x036F:
		return "", true
	case r >= 0xFF01 && r <= 0xFF5E:
		a := r - 0xFF01 + '!'
		if a == '`' {
			return "'", true
		}
		return asciiStrings[a], true
	}
	return "", false
}

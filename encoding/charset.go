package encoding

// The GSM 7-bit tables of 3GPP TS 23.038 (§6.2.1 default alphabet and extension table, Annex A
// national language locking and single shift tables). A locking table is written as its 128
// characters in code order (position 0x1B is the escape to the single shift table and carries no
// character); a single shift table as code → character. Each character of a single shift table
// costs two septets (ESC + code).
//
// Portuguese matches the "GSM-PT" tables of the 360nrs manual (seeds/000) and 23.038 A.2.3/A.3.3,
// including Ê at single shift 0x1F, which warthog618/sms v0.3.0 lacks (added upstream in its
// PR #9). The seed's own table lost some cells (∞, €) in extraction; 23.038 is followed.
// The 0x0D "CR2" and 0x1B "SS2" cells of the single shift tables are never produced.

const (
	defaultLocking = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	portugueseLocking = "@£$¥êéúíóç\nÔô\rÁáΔ_ªÇÀ∞^\\€Ó|\x1bÂâÊÉ !\"#º%&'()*+,-./0123456789:;<=>?" +
		"ÍABCDEFGHIJKLMNOPQRSTUVWXYZÃÕÚÜ§~abcdefghijklmnopqrstuvwxyzãõ`üà"
	turkishLocking = "@£$¥€éùıòÇ\nĞğ\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bŞşßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"İABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§çabcdefghijklmnopqrstuvwxyzäöñüà"
)

var (
	defaultSingle = map[byte]rune{
		0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\', 0x3C: '[', 0x3D: '~', 0x3E: ']',
		0x40: '|', 0x65: '€',
	}
	portugueseSingle = map[byte]rune{
		0x05: 'ê', 0x09: 'ç', 0x0A: '\f', 0x0B: 'Ô', 0x0C: 'ô', 0x0E: 'Á', 0x0F: 'á', 0x12: 'Φ',
		0x13: 'Γ', 0x14: '^', 0x15: 'Ω', 0x16: 'Π', 0x17: 'Ψ', 0x18: 'Σ', 0x19: 'Θ', 0x1F: 'Ê',
		0x28: '{', 0x29: '}', 0x2F: '\\', 0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x41: 'À',
		0x49: 'Í', 0x4F: 'Ó', 0x55: 'Ú', 0x5B: 'Ã', 0x5C: 'Õ', 0x61: 'Â', 0x65: '€', 0x69: 'í',
		0x6F: 'ó', 0x75: 'ú', 0x7B: 'ã', 0x7C: 'õ', 0x7F: 'â',
	}
	// Spanish has a single shift table only (23.038 A.2.2); there is no Spanish locking table.
	spanishSingle = map[byte]rune{
		0x09: 'ç', 0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\', 0x3C: '[', 0x3D: '~',
		0x3E: ']', 0x40: '|', 0x41: 'Á', 0x49: 'Í', 0x4F: 'Ó', 0x55: 'Ú', 0x61: 'á', 0x65: '€',
		0x69: 'í', 0x6F: 'ó', 0x75: 'ú',
	}
	turkishSingle = map[byte]rune{
		0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\', 0x3C: '[', 0x3D: '~', 0x3E: ']',
		0x40: '|', 0x47: 'Ğ', 0x49: 'İ', 0x53: 'Ş', 0x63: 'ç', 0x65: '€', 0x67: 'ğ', 0x69: 'ı',
		0x73: 'ş',
	}
)

// Table membership bits, one per table; a rune's flags say which tables carry it.
const (
	inDefault uint8 = 1 << iota
	inDefaultExt
	inPortuguese
	inPortugueseExt
	inSpanishExt
	inTurkish
	inTurkishExt
)

// Every GSM character of every table is below U+0400 except € and ∞.
const flagTableSize = 0x400

var flagTable = buildFlags()

func buildFlags() *[flagTableSize]uint8 {
	var t [flagTableSize]uint8
	locking := func(s string, bit uint8) {
		i := 0
		for _, r := range s {
			if i != 0x1B && r < flagTableSize {
				t[r] |= bit
			}
			i++
		}
	}
	single := func(m map[byte]rune, bit uint8) {
		for _, r := range m {
			if r < flagTableSize {
				t[r] |= bit
			}
		}
	}
	locking(defaultLocking, inDefault)
	locking(portugueseLocking, inPortuguese)
	locking(turkishLocking, inTurkish)
	single(defaultSingle, inDefaultExt)
	single(portugueseSingle, inPortugueseExt)
	single(spanishSingle, inSpanishExt)
	single(turkishSingle, inTurkishExt)
	return &t
}

// flagsOf reports which tables carry r.
func flagsOf(r rune) uint8 {
	if r < flagTableSize {
		return flagTable[r]
	}
	switch r {
	case '€':
		return inDefaultExt | inPortuguese | inPortugueseExt | inSpanishExt | inTurkish | inTurkishExt
	case '∞':
		return inPortuguese
	}
	return 0
}

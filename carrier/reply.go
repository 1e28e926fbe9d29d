package carrier

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Opt-out and opt-in keywords: Twilio's defaults, the vendors' French,
// Spanish, Portuguese, German and Italian words, compared without case or accents.
var (
	stopWords = set("STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "REVOKE", "OPTOUT", "OPT-OUT",
		"ARRET", "ARRETER", "DESABONNER", "DESINSCRIRE", "BAJA", "PARAR", "CANCELAR", "SAIR", "STOPP",
		"ABMELDEN", "ALT", "ANNULLA", "DISISCRIVIMI")
	startWords = set("START", "UNSTOP", "YES", "SUBSCRIBE", "ALTA", "REPRENDRE")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// ClassifyReply tells whether an inbound text is an opt-out (STOP, ARRET, BAJA, PARAR, STOPP,
// UNSUBSCRIBE, …) or an opt-in (START, UNSTOP, …). Like the carriers, only a message that is the
// keyword alone counts ("stop", " Stop! ", "ARRÊT" do; "stop sending me offers" does not), in any
// case and with or without accents. It is pure, so the workflow may call it too.
func ClassifyReply(text string) (isStop, isStart bool) {
	w := normalizeKeyword(text)
	return stopWords[w], startWords[w]
}

var stripMarks = transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)

func normalizeKeyword(text string) string {
	t, _, err := transform.String(stripMarks, text)
	if err != nil {
		t = text
	}
	t = strings.TrimFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
	return strings.ToUpper(t)
}

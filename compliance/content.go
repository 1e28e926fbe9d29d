package compliance

import (
	"regexp"
	"strings"
	"unicode"
)

// Violation codes (stable strings a HubSpot user reads). Content rules may carry others.
const (
	CodePublicShortener = "PUBLIC_URL_SHORTENER"
	CodeProhibited      = "PROHIBITED_CONTENT"
)

// Violation is one broken content rule.
type Violation struct {
	Code   string `json:"code"`
	Action Action `json:"action"`
	Detail string `json:"detail"`
}

// Blocked reports whether any violation blocks the message.
func Blocked(vs []Violation) bool {
	for _, v := range vs {
		if v.Action == Block {
			return true
		}
	}
	return false
}

// CheckOptions are the inputs of a content check besides the text.
type CheckOptions struct {
	// Category of the message: content rules apply to marketing. Empty counts as
	// marketing, the stricter.
	Category Category
	// ShortDomains are the service's own short link domains, never public shorteners.
	ShortDomains []string
}

// Check checks text against country's content rules under the default table.
func Check(text, country string, opts CheckOptions) []Violation {
	return defaultTable.Check(text, country, opts)
}

// Check returns the content rules text breaks for a message to country, links first, in the
// order they appear, then the table's categories in order; nil when none.
func (t *Table) Check(text, country string, opts CheckOptions) []Violation {
	if opts.Category == Transactional {
		return nil
	}
	rule, ok := t.Rule(country)
	if !ok {
		return nil
	}
	var vs []Violation
	if rule.NoPublicShorteners {
		seen := map[string]bool{}
		for _, host := range hosts(text) {
			if domainIn(host, opts.ShortDomains) != "" {
				continue
			}
			if d := domainIn(host, t.PublicShorteners); d != "" && !seen[d] {
				seen[d] = true
				vs = append(vs, Violation{Code: CodePublicShortener, Action: Block, Detail: d})
			}
		}
	}
	words := tokens(text)
	for _, c := range rule.Content {
		if kw := firstMatch(words, c.Keywords); kw != "" {
			vs = append(vs, Violation{Code: c.Code, Action: c.Action, Detail: c.Category + ": " + kw})
		}
	}
	return vs
}

// hostRE finds host names in text, with or without a scheme: "bit.ly/x", "https://t.co/y".
var hostRE = regexp.MustCompile(`(?i)(?:https?://)?((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})\b`)

func hosts(text string) []string {
	var out []string
	for _, m := range hostRE.FindAllStringSubmatch(text, -1) {
		out = append(out, strings.TrimPrefix(strings.ToLower(m[1]), "www."))
	}
	return out
}

// domainIn returns the domain of list that host is or is a subdomain of.
func domainIn(host string, list []string) string {
	for _, d := range list {
		d = strings.ToLower(strings.TrimSpace(d))
		if d != "" && (host == d || strings.HasSuffix(host, "."+d)) {
			return d
		}
	}
	return ""
}

// tokens splits text into lower-case words without accents.
func tokens(text string) []string {
	return strings.FieldsFunc(fold(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// firstMatch returns the first keyword found in words, as written in the list.
func firstMatch(words, keywords []string) string {
	for _, kw := range keywords {
		k := tokens(kw)
		prefix := strings.HasSuffix(kw, "*")
		if len(k) == 0 {
			continue
		}
		for i := 0; i+len(k) <= len(words); i++ {
			if matchAt(words[i:i+len(k)], k, prefix) {
				return strings.TrimSuffix(kw, "*")
			}
		}
	}
	return ""
}

func matchAt(words, k []string, prefix bool) bool {
	for j := range k {
		last := j == len(k)-1
		if words[j] != k[j] && !(last && prefix && strings.HasPrefix(words[j], k[j])) {
			return false
		}
	}
	return true
}

// fold lower-cases s and removes the accents of Latin letters (é → e, ñ → n, ç → c).
func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if f, ok := accents[r]; ok {
			b.WriteRune(f)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var accents = func() map[rune]rune {
	m := map[rune]rune{}
	for base, forms := range map[rune]string{
		'a': "àáâãäåā", 'c': "çćč", 'e': "èéêëēė", 'i': "ìíîïī", 'n': "ñń",
		'o': "òóôõöøō", 'u': "ùúûüū", 'y': "ýÿ", 's': "śš", 'z': "źżž",
	} {
		for _, r := range forms {
			m[r] = base
		}
	}
	return m
}()

// StopMention returns the opt-out mention for country under the default table.
func StopMention(country string, cfg Config) string {
	return defaultTable.StopMention(country, cfg)
}

// StopMention returns the opt-out mention for country: its rule's ("STOP au 36180" for France,
// with cfg.StopCode), else the table's default.
func (t *Table) StopMention(country string, cfg Config) string {
	m := t.DefaultStopMention
	if r, ok := t.Rule(country); ok && r.StopMention != "" {
		m = r.StopMention
	}
	code := cfg.StopCode
	if code == "" {
		code = DefaultStopCode
	}
	return strings.ReplaceAll(m, "{code}", code)
}

// StopRequired reports whether a message of category c to country must carry the opt-out mention.
func (t *Table) StopRequired(country string, c Category) bool {
	r, ok := t.Rule(country)
	return ok && c == Marketing && r.StopRequired
}

// ApplyStop appends the opt-out mention under the default table.
func ApplyStop(text, country string, c Category, addStop bool, cfg Config) (string, string) {
	return defaultTable.ApplyStop(text, country, c, addStop, cfg)
}

// ApplyStop appends the opt-out mention to text, on its own line, when the user asked for it
// (addStop) or the country requires it for category c (forced). It returns the text to send and
// the mention appended, empty when none was: not asked, or the text already ends with one
// (for France any "STOP au <digits>", whatever the code).
func (t *Table) ApplyStop(text, country string, c Category, addStop bool, cfg Config) (string, string) {
	if !addStop && !t.StopRequired(country, c) {
		return text, ""
	}
	mention := t.StopMention(country, cfg)
	if mention == "" || hasMention(text, t.mentionTemplate(country)) {
		return text, ""
	}
	sep := "\n"
	if text == "" || strings.HasSuffix(text, "\n") || strings.HasSuffix(text, " ") {
		sep = ""
	}
	return text + sep + mention, mention
}

func (t *Table) mentionTemplate(country string) string {
	if r, ok := t.Rule(country); ok && r.StopMention != "" {
		return r.StopMention
	}
	return t.DefaultStopMention
}

// hasMention reports whether text ends with the mention template, any code, any case or spacing.
func hasMention(text, template string) bool {
	parts := strings.Split(template, "{code}")
	for i, p := range parts {
		parts[i] = strings.Join(strings.Fields(regexp.QuoteMeta(p)), `\s+`)
	}
	re, err := regexp.Compile(`(?i)` + strings.Join(parts, `\s*\d+`) + `[\s.!]*$`)
	return err == nil && re.MatchString(text)
}

// ConsentRequired reports, under the default table, whether a message of category c to country
// needs the recipient's express consent.
func ConsentRequired(country string, c Category) bool {
	return defaultTable.ConsentRequired(country, c)
}

// ConsentRequired reports whether a message of category c to country needs the recipient's
// express consent (opt-in).
func (t *Table) ConsentRequired(country string, c Category) bool {
	r, ok := t.Rule(country)
	return ok && c == Marketing && r.ExpressConsent
}

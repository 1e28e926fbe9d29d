// Package render turns a user's message into the text of one recipient: personalization tokens,
// the unsubscribe link and tracked links. It is pure; the caller supplies link makers.
package render

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Tokens are HubSpot-style `{{contact.firstname}}` (any object prefix, any case, optional
// spaces) and the vendors' `$prenom` / `$nom` / `$firstname` / `$lastname` style. A token with
// no value disappears without leaving a double space or a space before punctuation.
var (
	braceToken  = regexp.MustCompile(`\{\{\s*(?:[a-zA-Z_]+\.)?([a-zA-Z0-9_]+)\s*\}\}`)
	dollarToken = regexp.MustCompile(`\$([a-zA-Z_][a-zA-Z0-9_]*)`)
	linkPattern = regexp.MustCompile(`https?://[^\s<>"']+`)
)

// dollarAliases maps the $-tokens of the French and Portuguese manuals to HubSpot properties.
var dollarAliases = map[string]string{
	"prenom": "firstname", "nom": "lastname", "firstname": "firstname", "lastname": "lastname",
	"nome": "firstname", "apelido": "lastname", "societe": "company", "company": "company",
	"email": "email", "phone": "phone", "mobilephone": "mobilephone", "city": "city", "ville": "city",
}

// UnsubscribeToken is replaced by the recipient's unsubscribe link.
const UnsubscribeToken = "{UNSUB_URL}"

// Personalize replaces the tokens with values (keys are lowercase property names).
func Personalize(text string, values map[string]string) string {
	out := braceToken.ReplaceAllStringFunc(text, func(m string) string {
		name := strings.ToLower(braceToken.FindStringSubmatch(m)[1])
		return values[name]
	})
	out = dollarToken.ReplaceAllStringFunc(out, func(m string) string {
		name := strings.ToLower(m[1:])
		prop, ok := dollarAliases[name]
		if !ok {
			return m // "$5" or an unknown word stays as typed
		}
		return values[prop]
	})
	return tidy(out)
}

// PropertyNames lists, lowercase and once each, the record properties the text's tokens use.
func PropertyNames(text string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, m := range braceToken.FindAllStringSubmatch(text, -1) {
		add(strings.ToLower(m[1]))
	}
	for _, m := range dollarToken.FindAllStringSubmatch(text, -1) {
		if prop, ok := dollarAliases[strings.ToLower(m[1])]; ok {
			add(prop)
		}
	}
	return out
}

var (
	spaces      = regexp.MustCompile(`[ \t]{2,}`)
	spacePunct  = regexp.MustCompile(`[ \t]+([,.!?;:])`)
	lineSpacing = regexp.MustCompile(`[ \t]*\n[ \t]*`)
)

// tidy removes what an empty token leaves behind: double spaces, a space before punctuation,
// spaces at line ends and at both ends.
func tidy(s string) string {
	s = spaces.ReplaceAllString(s, " ")
	s = spacePunct.ReplaceAllString(s, "$1")
	s = lineSpacing.ReplaceAllString(s, "\n")
	return strings.TrimSpace(s)
}

// Links returns the distinct links of text, in order of appearance.
func Links(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range linkPattern.FindAllString(text, -1) {
		l = strings.TrimRight(l, ".,;:!?)")
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// ReplaceLinks replaces each link of text by replace(link), e.g. a short link.
func ReplaceLinks(text string, replace map[string]string) string {
	links := make([]string, 0, len(replace))
	for l := range replace {
		links = append(links, l)
	}
	// Longest first, so a link that prefixes another is not replaced inside it.
	sort.Slice(links, func(i, j int) bool {
		return len(links[i]) > len(links[j]) || len(links[i]) == len(links[j]) && links[i] < links[j]
	})
	pairs := make([]string, 0, 2*len(links))
	for _, l := range links {
		pairs = append(pairs, l, replace[l])
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// WithUTM adds the UTM parameters to link (existing ones are kept); keys are utm_source, ….
func WithUTM(link string, utm map[string]string) string {
	if len(utm) == 0 {
		return link
	}
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	q := u.Query()
	keys := make([]string, 0, len(utm))
	for k := range utm {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if utm[k] != "" && q.Get(k) == "" {
			q.Set(k, utm[k])
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

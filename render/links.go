package render

import (
	"net/url"
	"regexp"
	"strings"
)

// spacedToken is a brace token written with spaces inside ({{ contact.id }}), which would cut a
// link in two where it is written inside one.
var spacedToken = regexp.MustCompile(`\{\{\s+([^{}\s]+)\s*\}\}|\{\{([^{}\s]+)\s+\}\}`)

// CompactTokens writes every brace token without inner spaces, so the links of a template are
// found whole, tokens included.
func CompactTokens(text string) string {
	return spacedToken.ReplaceAllStringFunc(text, func(m string) string {
		return "{{" + strings.TrimSpace(strings.Trim(m, "{}")) + "}}"
	})
}

// HasToken says whether s holds a personalization token.
func HasToken(s string) bool {
	return braceToken.MatchString(s) || hasDollarToken(s)
}

func hasDollarToken(s string) bool {
	for _, m := range dollarToken.FindAllStringSubmatch(s, -1) {
		if _, ok := dollarAliases[strings.ToLower(m[1])]; ok {
			return true
		}
	}
	return false
}

// LinkHost is the host a template link points to, or "" when a token stands in its scheme,
// user info, host or port (a record's value would choose where the link leads) or the link does
// not parse.
func LinkHost(link string) string {
	scheme, rest, ok := strings.Cut(link, "://")
	if !ok || HasToken(scheme) {
		return ""
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if HasToken(authority) || strings.Contains(authority, "{") || strings.Contains(authority, "$") {
		return ""
	}
	u, err := url.Parse(scheme + "://" + authority)
	if err != nil || u.User != nil || u.Hostname() == "" {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// PersonalizeLink fills the tokens of a link written in a template, each value escaped as a URL
// query component: a value cannot end the link, add a parameter or a path, or move it to another
// host. Call it only on a link whose host holds no token (LinkHost is not "").
func PersonalizeLink(link string, values map[string]string) string {
	out := braceToken.ReplaceAllStringFunc(link, func(m string) string {
		return url.QueryEscape(values[strings.ToLower(braceToken.FindStringSubmatch(m)[1])])
	})
	return dollarToken.ReplaceAllStringFunc(out, func(m string) string {
		prop, ok := dollarAliases[strings.ToLower(m[1:])]
		if !ok {
			return m
		}
		return url.QueryEscape(values[prop])
	})
}

// HostAllowed says whether host is on allowlist: an entry is a host name ("example.com", that
// host only) or a domain with "*." ("*.example.com": its subdomains and itself). An empty list
// allows every host.
func HostAllowed(host string, allowlist []string) bool {
	if len(allowlist) == 0 {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, entry := range allowlist {
		entry = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(entry), "."))
		if domain, ok := strings.CutPrefix(entry, "*."); ok {
			if host == domain || strings.HasSuffix(host, "."+domain) {
				return true
			}
		} else if entry != "" && host == entry {
			return true
		}
	}
	return false
}

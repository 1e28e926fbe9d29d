// Package compliance holds the per-country rules for SMS: when a
// marketing message may be sent in the recipient's local time, the mandatory opt-out mention,
// whether express consent is required, and what content is prohibited.
//
// The rules are data: one versioned Table. Everything is pure and deterministic (no clock, no
// I/O except reading time zone data through the standard library), so a workflow can compute a
// decision in an activity and record it in its history; changing the table later does not change
// what running messages recorded.
package compliance

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rickar/cal/v2/br"
	"github.com/rickar/cal/v2/de"
	"github.com/rickar/cal/v2/es"
	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/gb"
	"github.com/rickar/cal/v2/ie"
	"github.com/rickar/cal/v2/it"
	"github.com/rickar/cal/v2/mx"
	"github.com/rickar/cal/v2/pt"
	"github.com/rickar/cal/v2/us"
)

// RulesVersion identifies the default table. Change it with every change to the table's data; it
// is returned with every decision so a recorded decision says which rules produced it.
const RulesVersion = "2026-11-25.1"

// DefaultStopCode is the short code put in France's "STOP au <code>" mention when the
// configuration gives none. The code depends on the carrier (router) that sends the traffic:
// 36180 is OVH's; others seen are 36111, 36173, 36200. Configure the one of
// the carrier in use.
const DefaultStopCode = "36180"

// Category is the kind of message: compliance rules apply to marketing only.
type Category string

// Categories, as HubSpot's message_type input spells them.
const (
	Marketing     Category = "marketing"
	Transactional Category = "transactional"
)

// ParseCategory reads a message_type input.
func ParseCategory(s string) (Category, error) {
	switch c := Category(strings.ToLower(strings.TrimSpace(s))); c {
	case Marketing, Transactional:
		return c, nil
	}
	return "", fmt.Errorf("%w: %q (want marketing or transactional)", ErrCategory, s)
}

// Clock is a local wall-clock time of day in minutes after midnight, 0 to 24*60.
type Clock int

// At is the wall-clock time h:m.
func At(h, m int) Clock { return Clock(h*60 + m) }

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Window is a time of day range [From, To) in local wall-clock time. A range over midnight is
// two windows on consecutive days.
type Window struct {
	From, To Clock
}

func (w Window) String() string { return w.From.String() + "–" + w.To.String() }

// Week holds the allowed windows of each day, indexed by time.Weekday. A day without windows is
// closed all day.
type Week [7][]Window

// Action is what happens to a message that breaks a content rule.
type Action string

// Actions.
const (
	Block Action = "block" // the message is not sent
	Warn  Action = "warn"  // the message is sent; the user is told
)

// ContentRule flags a category of content by keywords. Keywords match whole words, case- and
// accent-insensitively; a keyword of several words matches them in a row; a trailing "*" matches
// any word starting so ("casino*" matches "casinos").
type ContentRule struct {
	Code     string // violation code, e.g. "PROHIBITED_CONTENT"
	Category string // e.g. "gambling"
	Keywords []string
	Action   Action
}

// Rule is one country's rules for marketing SMS.
type Rule struct {
	Country string // ISO 3166 alpha-2
	Name    string // in messages: "France"
	Source  string // where the rule comes from

	// Hours are the windows in which marketing may be sent, in the recipient's local time; nil
	// means no time restriction.
	Hours *Week
	// ClosedOnHolidays: no marketing on the public holidays of Holidays.
	ClosedOnHolidays bool
	Holidays         Calendar
	// Timezones are used when the number's own zones are unknown (the window must be open in all).
	Timezones []string

	// StopMention is the opt-out mention to append; "{code}" is replaced by Config.StopCode.
	// Empty: the table's DefaultStopMention.
	StopMention string
	// StopRequired: marketing must end with the mention (appended even without add_stop).
	StopRequired bool
	// ExpressConsent: marketing needs the recipient's express opt-in (a consent property).
	ExpressConsent bool
	// NoPublicShorteners: links on public URL shorteners (Table.PublicShorteners) are blocked;
	// the service's own short domain is fine.
	NoPublicShorteners bool
	// Content lists the prohibited-content rules.
	Content []ContentRule
}

// Table is the rule set. Callers may change a table returned by DefaultTable (add or replace
// rules, change keyword lists); they then own its Version.
type Table struct {
	Version string
	// Subject is what the table's windows allow, as a held message's reason names it; empty:
	// "marketing SMS".
	Subject string
	Rules   map[string]Rule
	// Aliases map regions to the country whose rules apply ("GG" → "GB": libphonenumber gives
	// Guernsey for many +44 7 numbers).
	Aliases map[string]string
	// DefaultStopMention is the mention for countries whose rule has none.
	DefaultStopMention string
	// PublicShorteners are the public URL shortener domains (subdomains included).
	PublicShorteners []string
}

// subject is Subject, or "marketing SMS".
func (t *Table) subject() string {
	if t.Subject == "" {
		return "marketing SMS"
	}
	return t.Subject
}

// Config is the deployment's configuration the rules need.
type Config struct {
	StopCode     string   // the "{code}" of France's "STOP au {code}"; empty → DefaultStopCode
	ShortDomains []string // the service's own short link domains: never a public shortener
}

// Rule returns the rule for country (ISO 3166 alpha-2, any case), following aliases.
func (t *Table) Rule(country string) (Rule, bool) {
	c := strings.ToUpper(strings.TrimSpace(country))
	if a, ok := t.Aliases[c]; ok {
		c = a
	}
	r, ok := t.Rules[c]
	return r, ok
}

// Validate reports a table whose data cannot be used: windows out of order or out of the day,
// unknown time zones, a country key that differs from the rule's Country, a holiday rule
// without a calendar, an unknown action.
func (t *Table) Validate() error {
	keys := make([]string, 0, len(t.Rules))
	for k := range t.Rules {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := t.Rules[k]
		if r.Country != k {
			return fmt.Errorf("compliance: rule %q has Country %q", k, r.Country)
		}
		if r.ClosedOnHolidays && r.Holidays == nil {
			return fmt.Errorf("compliance: %s is closed on holidays but has no calendar", k)
		}
		if r.Hours != nil {
			for d, ws := range r.Hours {
				for _, w := range ws {
					if w.From < 0 || w.To > At(24, 0) || w.From >= w.To {
						return fmt.Errorf("compliance: %s %s window %s is not within a day", k, time.Weekday(d), w)
					}
				}
			}
			if len(r.Timezones) == 0 {
				return fmt.Errorf("compliance: %s has hours but no default time zone", k)
			}
		}
		for _, z := range r.Timezones {
			if _, err := location(z); err != nil {
				return err
			}
		}
		for _, c := range r.Content {
			if c.Action != Block && c.Action != Warn {
				return fmt.Errorf("compliance: %s content rule %s: action %q", k, c.Category, c.Action)
			}
		}
	}
	return nil
}

// every gives the same windows to each of days.
func every(days []time.Weekday, ws ...Window) (w Week) {
	for _, d := range days {
		w[d] = ws
	}
	return w
}

var (
	monFri  = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	monSat  = append(monFri[:5:5], time.Saturday)
	allWeek = append(monSat[:6:6], time.Sunday)
)

// DefaultTable returns a fresh copy of the default rules (version RulesVersion).
func DefaultTable() *Table {
	frHours := every(monSat, Window{At(8, 0), At(22, 0)})
	coHours := every(monFri, Window{At(7, 0), At(19, 0)})
	coHours[time.Saturday] = []Window{{At(8, 0), At(15, 0)}}
	usHours := every(allWeek, Window{At(8, 0), At(21, 0)})

	const seed = "360nrs manual, \"Sending Restrictions by Country\""
	return &Table{
		Version: RulesVersion,
		Rules: map[string]Rule{
			"FR": {
				Country: "FR", Name: "France",
				Source:           seed + " (France); public holidays: Code du travail L3133-1",
				Hours:            &frHours,
				ClosedOnHolidays: true, Holidays: libCalendar(fr.Holidays),
				Timezones:   []string{"Europe/Paris"},
				StopMention: "STOP au {code}", StopRequired: true,
				Content: prohibited(politics, religion, gambling),
			},
			"CO": {
				Country: "CO", Name: "Colombia",
				Source:           seed + " (Colombia); Ley 2300 de 2023 art. 3; holidays: Ley 51 de 1983",
				Hours:            &coHours,
				ClosedOnHolidays: true, Holidays: Colombia,
				Timezones:   []string{"America/Bogota"},
				StopMention: "Baja: responde BAJA",
				Content:     prohibited(politics, religion, gambling),
			},
			"US": {
				Country: "US", Name: "United States",
				Source:             seed + " (United States); hours: TCPA, 47 CFR 64.1200(c)(1)",
				Hours:              &usHours,
				Holidays:           libCalendar(us.Holidays),
				Timezones:          []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"},
				StopMention:        "Reply STOP to opt out",
				NoPublicShorteners: true,
				Content: prohibited(adult, abuse, firearms, alcohol, tobacco, drugs, gambling, investment,
					highRiskFinance, loans, creditRepair, debtCollection, tax, crypto, realEstate, mlm),
			},
			"ES": {
				Country: "ES", Name: "Spain", Source: seed + " (Spain)",
				Holidays:    libCalendar(es.Holidays),
				Timezones:   []string{"Europe/Madrid"},
				StopMention: "Baja: responde BAJA",
				Content:     prohibited(politics, religion, gambling),
			},
			"GB": {
				Country: "GB", Name: "United Kingdom", Source: seed + " (United Kingdom)",
				Holidays:    libCalendar(gb.Holidays),
				Timezones:   []string{"Europe/London"},
				StopMention: "Reply STOP to opt out",
				Content: append(prohibited(politics, religion),
					ContentRule{Code: "AGE_VERIFICATION_REQUIRED", Category: adult.name, Keywords: slices.Clone(adult.keywords), Action: Warn},
					ContentRule{Code: "AGE_VERIFICATION_REQUIRED", Category: gambling.name, Keywords: slices.Clone(gambling.keywords), Action: Warn}),
			},
			"IE": {
				Country: "IE", Name: "Ireland", Source: seed + " (Ireland)",
				Holidays: libCalendar(ie.Holidays),
				// libphonenumber maps Irish numbers to London/Guernsey/Isle_of_Man (no Europe/Dublin);
				// same offsets all year.
				Timezones:      []string{"Europe/Dublin"},
				StopMention:    "Reply STOP to opt out",
				ExpressConsent: true,
				Content:        prohibited(politics, religion, gambling),
			},
			// No rules in the seed: calendars ready for a caller that closes holidays or adds hours.
			"PT": {Country: "PT", Name: "Portugal", Holidays: libCalendar(pt.Holidays), Timezones: []string{"Europe/Lisbon"}, StopMention: "PARAR para sair"},
			"BR": {Country: "BR", Name: "Brazil", Holidays: libCalendar(br.Holidays), Timezones: []string{"America/Sao_Paulo"}, StopMention: "PARAR para sair"},
			"MX": {Country: "MX", Name: "Mexico", Holidays: libCalendar(mx.Holidays), Timezones: []string{"America/Mexico_City"}, StopMention: "Baja: responde BAJA"},
			"DE": {Country: "DE", Name: "Germany", Holidays: libCalendar(de.Holidays), Timezones: []string{"Europe/Berlin"}, StopMention: "Abmelden: STOPP"},
			"IT": {Country: "IT", Name: "Italy", Holidays: libCalendar(it.Holidays), Timezones: []string{"Europe/Rome"}, StopMention: "STOP per disiscriverti"},
		},
		// Crown dependencies follow GB (libphonenumber gives GG for many +44 7 numbers); US
		// territories with +1 numbers are under the TCPA.
		Aliases: map[string]string{
			"GG": "GB", "JE": "GB", "IM": "GB",
			"PR": "US", "VI": "US", "GU": "US", "AS": "US", "MP": "US",
		},
		DefaultStopMention: "STOP to opt out",
		PublicShorteners: []string{
			"bit.ly", "bitly.com", "tinyurl.com", "goo.gl", "ow.ly", "t.co", "is.gd", "v.gd", "buff.ly",
			"rebrand.ly", "cutt.ly", "shorturl.at", "tiny.cc", "rb.gy", "t.ly", "bl.ink", "s.id",
			"lnkd.in", "soo.gd", "shorte.st", "adf.ly", "tiny.one", "x.gd", "qrco.de", "short.gy",
		},
	}
}

// The prohibited-content categories of the seed, as keyword lists (English, Spanish, French).
// Keywords cannot judge content; the default action is therefore Warn, and a deployment that
// prefers to refuse sets Block (see ContentRule). "Unsolicited promotions" is a matter of consent
// , not of words, and has no list.
var (
	politics = category{"politics", []string{
		"vote", "voting", "vota", "votar", "votez", "voter", "election*", "eleccion*", "elezion*",
		"political party", "partido politico", "parti politique", "candidate", "candidato", "candidat",
		"referendum", "referendo", "ballot", "senator", "congressman",
	}}
	religion = category{"religion", []string{
		"church", "iglesia", "eglise", "mosque", "mezquita", "mosquee", "synagogue", "sinagoga",
		"prayer*", "oracion*", "priere*", "bible", "biblia", "quran", "koran", "coran", "jesus",
		"allah", "evangeli*", "salvation", "salvacion",
	}}
	gambling = category{"gambling", []string{
		"casino*", "gambl*", "bet", "bets", "betting", "apuesta*", "apostar", "pari sportif",
		"paris sportifs", "jeux d argent", "poker", "lottery", "loteria", "loterie", "jackpot",
		"bingo", "slot machine*", "slots", "tragamonedas", "ruleta", "roulette", "sportsbook",
	}}
	adult = category{"adult", []string{
		"sex", "sexy", "sexual*", "porn*", "xxx", "nude*", "escort*", "onlyfans", "erotic*",
	}}
	abuse      = category{"hate or harassment", []string{"kill you", "hurt you", "threat*"}}
	firearms   = category{"firearms", []string{"gun", "guns", "firearm*", "rifle*", "ammo", "ammunition", "pistol*", "handgun*", "firework*"}}
	alcohol    = category{"alcohol", []string{"beer*", "wine*", "vodka", "whiskey", "whisky", "liquor", "alcohol*", "tequila", "cocktail*"}}
	tobacco    = category{"tobacco", []string{"tobacco", "cigar*", "vape*", "vaping", "e cig*", "nicotine", "hookah"}}
	drugs      = category{"drugs", []string{"cannabis", "marijuana", "weed", "cbd", "thc", "kratom", "psilocybin", "cocaine"}}
	investment = category{"investment", []string{
		"investment opportunit*", "invest now", "guaranteed return*", "stock tip*", "forex", "passive income",
	}}
	highRiskFinance = category{"high-risk financial services", []string{"payday", "cash advance", "same day cash", "bail bond*"}}
	loans           = category{"loans", []string{"loan", "loans", "loan forgiveness", "student loan*"}}
	creditRepair    = category{"credit repair", []string{"credit repair", "fix your credit", "repair your credit", "credit score"}}
	debtCollection  = category{"debt collection", []string{"debt", "debts", "debt collection", "debt relief", "collection agency"}}
	tax             = category{"tax", []string{"tax relief", "tax debt", "back taxes", "irs", "tax resolution"}}
	crypto          = category{"cryptocurrency", []string{"crypto*", "bitcoin", "btc", "ethereum", "nft", "nfts", "blockchain"}}
	realEstate      = category{"unsolicited real estate", []string{"we buy houses", "we buy homes", "webuyhomes", "cash for your house", "sell your house"}}
	mlm             = category{"multi-level marketing", []string{"mlm", "multi level marketing", "network marketing", "be your own boss"}}
)

type category struct {
	name     string
	keywords []string
}

func prohibited(cs ...category) []ContentRule {
	out := make([]ContentRule, len(cs))
	for i, c := range cs {
		out[i] = ContentRule{Code: CodeProhibited, Category: c.name, Keywords: slices.Clone(c.keywords), Action: Warn}
	}
	return out
}

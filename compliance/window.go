package compliance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors; classify with errors.Is.
var (
	ErrCategory        = errors.New("INVALID_MESSAGE_TYPE")
	ErrUnknownTimezone = errors.New("UNKNOWN_TIMEZONE")
	// ErrNoWindow: the rules never open within a year (a misconfigured table).
	ErrNoWindow = errors.New("NO_SEND_WINDOW")
)

// Recipient is who a message goes to, as far as the rules are concerned.
type Recipient struct {
	// Country is the ISO 3166 alpha-2 country whose rules apply: the number's region
	// (phone.Number.Region), else the country the user gave.
	Country string
	// Timezones are the number's IANA time zones (phone.Number.Timezones). Empty: the rule's
	// default zones. The window must be open in all of them.
	Timezones []string
}

// Decision is when a message may be sent.
type Decision struct {
	SendAt       time.Time // the earliest allowed instant ≥ the one asked, in UTC
	Held         bool      // SendAt is later than the instant asked
	Reason       string    // why it is held, for a person; empty when not held
	Country      string    // the rule applied; empty when none
	Timezones    []string  // the zones the window was checked in
	RulesVersion string
}

// horizon bounds the search for an open window.
const horizon = 366 * 24 * time.Hour

// NextSendTime returns the earliest instant ≥ at at which a message of category c may be sent to
// r under the default table.
func NextSendTime(at time.Time, r Recipient, c Category) (Decision, error) {
	return defaultTable.NextSendTime(at, r, c)
}

var defaultTable = DefaultTable()

// NextSendTime returns the earliest instant ≥ at at which a message of category c may be sent to
// r: at itself when allowed, else the opening of the next window in which every one of the
// recipient's time zones is allowed (not a holiday where the rule closes holidays, and within the
// day's hours). Transactional messages are never held; countries without a rule neither.
func (t *Table) NextSendTime(at time.Time, r Recipient, c Category) (Decision, error) {
	d := Decision{SendAt: at.UTC(), RulesVersion: t.Version}
	if c != Marketing && c != Transactional {
		return d, fmt.Errorf("%w: %q", ErrCategory, c)
	}
	rule, ok := t.Rule(r.Country)
	if !ok {
		return d, nil
	}
	d.Country = rule.Country
	if c == Transactional || (rule.Hours == nil && !rule.ClosedOnHolidays) {
		return d, nil
	}
	ev, zones, err := newEvaluator(rule, r.Timezones)
	d.Timezones = zones
	if err != nil {
		return d, err
	}
	ev.subject = t.subject()

	cur := at
	for cur.Sub(at) <= horizon {
		if ev.allowed(cur) {
			if !cur.Equal(at) {
				d.SendAt, d.Held = cur.UTC(), true
				d.Reason = ev.reason(at, cur)
			}
			return d, nil
		}
		cur = ev.nextChange(cur)
	}
	return d, fmt.Errorf("%w: %s never opens within a year", ErrNoWindow, rule.Name)
}

type evaluator struct {
	rule     Rule
	subject  string // what the windows allow, for the reason: "marketing SMS"
	locs     []*time.Location
	holidays *holidaySet
}

// newEvaluator evaluates rule in the number's zones (none: the rule's own); it returns the
// distinct zones it checks.
func newEvaluator(rule Rule, numberZones []string) (*evaluator, []string, error) {
	zones := numberZones
	if len(zones) == 0 {
		zones = rule.Timezones
	}
	ev := &evaluator{rule: rule, holidays: newHolidaySet(rule.Holidays)}
	var names []string
	for _, z := range zones {
		if slices.Contains(names, z) {
			continue
		}
		loc, err := location(z)
		if err != nil {
			return nil, names, err
		}
		names = append(names, z)
		ev.locs = append(ev.locs, loc)
	}
	if len(ev.locs) == 0 {
		return nil, names, fmt.Errorf("%w: %s has hours but no time zone", ErrUnknownTimezone, rule.Country)
	}
	return ev, names, nil
}

// allowed reports whether marketing may be sent at t: allowed in every zone.
func (e *evaluator) allowed(t time.Time) bool {
	for _, loc := range e.locs {
		if !e.allowedIn(t.In(loc)) {
			return false
		}
	}
	return true
}

// allowedIn reports whether the local time lt is allowed.
func (e *evaluator) allowedIn(lt time.Time) bool {
	if e.rule.ClosedOnHolidays {
		if _, hol := e.holidays.name(dateOf(lt)); hol {
			return false
		}
	}
	if e.rule.Hours == nil {
		return true
	}
	now := At(lt.Hour(), lt.Minute())
	for _, w := range e.rule.Hours[lt.Weekday()] {
		if w.From <= now && now < w.To {
			return true
		}
	}
	return false
}

// nextChange returns the earliest instant after t at which allowed may change: a window
// boundary, a local midnight or a change of UTC offset, in any zone. Between t and it, allowed is
// constant, so jumping there misses no open instant.
func (e *evaluator) nextChange(t time.Time) time.Time {
	var next time.Time
	for _, loc := range e.locs {
		if c := e.nextChangeIn(t, loc); next.IsZero() || c.Before(next) {
			next = c
		}
	}
	return next
}

// nextChangeIn is nextChange for one zone. Within one offset period local wall time is
// instant + offset, so the instant of a wall time w of that period is exactly w − offset; the end
// of the period (ZoneBounds) bounds the result.
func (e *evaluator) nextChangeIn(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	_, offset := lt.Zone()
	_, periodEnd := lt.ZoneBounds()
	midnight := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC) // civil, as UTC
	instant := func(c Clock) time.Time {
		return midnight.Add(time.Duration(c)*time.Minute - time.Duration(offset)*time.Second)
	}
	next := instant(At(24, 0)) // next local midnight: the date (holiday, weekday) changes
	if e.rule.Hours != nil {
		for _, w := range e.rule.Hours[lt.Weekday()] {
			for _, c := range []Clock{w.From, w.To} {
				if i := instant(c); i.After(t) && i.Before(next) {
					next = i
				}
			}
		}
	}
	if !periodEnd.IsZero() && periodEnd.After(t) && periodEnd.Before(next) {
		next = periodEnd
	}
	return next
}

// reason explains, for a person, why a message asked for at is held until until.
func (e *evaluator) reason(at, until time.Time) string {
	r := e.rule
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s allowed %s", r.Name, e.subject, hoursText(r.Hours))
	if len(e.locs) == 1 {
		fmt.Fprintf(&b, " %s time", e.locs[0])
	} else {
		fmt.Fprintf(&b, " in each of the number's time zones (%s)", joinLocs(e.locs))
	}
	if r.ClosedOnHolidays {
		b.WriteString(", not on public holidays")
	}
	b.WriteString("; ")
	for _, loc := range e.locs {
		lt := at.In(loc)
		if name, hol := e.holidays.name(dateOf(lt)); hol && r.ClosedOnHolidays {
			fmt.Fprintf(&b, "%s is a public holiday (%s); ", lt.Format("Mon 2006-01-02"), name)
			break
		}
	}
	b.WriteString("held until ")
	for i, loc := range e.locs {
		lt := until.In(loc)
		switch {
		case i == 0:
			fmt.Fprintf(&b, "%s %s", lt.Format("Mon 2006-01-02 15:04"), loc)
		case i == 1:
			fmt.Fprintf(&b, " (%s %s", lt.Format("Mon 15:04"), loc)
		default:
			fmt.Fprintf(&b, ", %s %s", lt.Format("Mon 15:04"), loc)
		}
	}
	if len(e.locs) > 1 {
		b.WriteString(")")
	}
	return b.String()
}

var dayAbbr = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// hoursText writes a week's windows as "Mon–Fri 07:00–19:00, Sat 08:00–15:00".
func hoursText(w *Week) string {
	if w == nil {
		return "at any time"
	}
	order := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
	var parts []string
	for i := 0; i < len(order); {
		j := i
		for j+1 < len(order) && slices.Equal(w[order[j+1]], w[order[i]]) {
			j++
		}
		if ws := w[order[i]]; len(ws) > 0 {
			days := dayAbbr[order[i]]
			switch {
			case i == 0 && j == len(order)-1:
				days = "every day"
			case j > i:
				days += "–" + dayAbbr[order[j]]
			}
			texts := make([]string, len(ws))
			for k, x := range ws {
				texts[k] = x.String()
			}
			parts = append(parts, days+" "+strings.Join(texts, " and "))
		}
		i = j + 1
	}
	if len(parts) == 0 {
		return "never"
	}
	return strings.Join(parts, ", ")
}

func joinLocs(locs []*time.Location) string {
	s := make([]string, len(locs))
	for i, l := range locs {
		s[i] = l.String()
	}
	return strings.Join(s, ", ")
}

// locations caches loaded zones; time.LoadLocation reads the zone database each time.
var locations sync.Map // string → *time.Location

// location loads an IANA zone from the standard library's zone database: the system's, or the
// one embedded by importing time/tzdata in the program's main package.
func location(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTimezone, name)
	}
	locations.Store(name, l)
	return l, nil
}

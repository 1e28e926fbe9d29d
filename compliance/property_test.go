package compliance

import (
	"math/rand/v2"
	"testing"
	"time"
)

// oracle says whether marketing may go at t, written plainly from the rule (no jumps).
type oracle struct {
	rule     Rule
	locs     []*time.Location
	holidays map[Date]bool
}

func newOracle(r Rule, locs []*time.Location) *oracle {
	o := &oracle{rule: r, locs: locs, holidays: map[Date]bool{}}
	if r.ClosedOnHolidays {
		for y := 2023; y <= 2030; y++ {
			for _, h := range r.Holidays.Holidays(y) {
				o.holidays[h.Date] = true
			}
		}
	}
	return o
}

func (o *oracle) allowed(t time.Time) bool {
	r := o.rule
	for _, loc := range o.locs {
		lt := t.In(loc)
		if o.holidays[dateOf(lt)] {
			return false
		}
		if r.Hours == nil {
			continue
		}
		open := false
		m := lt.Hour()*60 + lt.Minute()
		for _, w := range r.Hours[lt.Weekday()] {
			if int(w.From) <= m && m < int(w.To) {
				open = true
			}
		}
		if !open {
			return false
		}
	}
	return true
}

// TestNextSendTimeProperty checks, minute by minute over random weeks (seeded), that NextSendTime
// returns an allowed instant and that no earlier allowed instant exists.
func TestNextSendTimeProperty(t *testing.T) {
	tbl := DefaultTable()
	// A rule whose windows open inside DST gaps and overlaps (01:30 and 02:30 local) and that
	// closes holidays with a calendar whose substitute days cross years.
	odd := every(allWeek, Window{At(1, 30), At(2, 45)}, Window{At(2, 30), At(3, 15)}, Window{At(23, 59), At(24, 0)})
	odd[time.Wednesday] = nil
	tbl.Rules["ZZ"] = Rule{Country: "ZZ", Name: "Odd", Hours: &odd, ClosedOnHolidays: true,
		Holidays: tbl.Rules["US"].Holidays, Timezones: []string{newYork}}
	closedOnly := Rule{Country: "ZY", Name: "Holidays only", ClosedOnHolidays: true, Holidays: Colombia, Timezones: []string{bogota}}
	tbl.Rules["ZY"] = closedOnly

	cases := []Recipient{
		{Country: "FR", Timezones: []string{paris}},
		{Country: "CO", Timezones: []string{bogota}},
		{Country: "US", Timezones: []string{newYork}},
		{Country: "US", Timezones: []string{newYork, honolulu}},
		{Country: "US", Timezones: []string{"America/Adak", "America/Anchorage"}},
		{Country: "US"}, // the four default zones
		{Country: "FR", Timezones: []string{paris, "America/Guadeloupe"}},
		{Country: "ZZ", Timezones: []string{"Australia/Lord_Howe"}}, // half-hour DST shift
		{Country: "ZZ", Timezones: []string{newYork, "America/Toronto"}},
		{Country: "ZZ", Timezones: []string{paris}},
		{Country: "ZY"},
	}
	rng := rand.New(rand.NewPCG(20261125, 4))
	lo := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 60
	hi := time.Date(2027, 12, 20, 0, 0, 0, 0, time.UTC).Unix() / 60
	// Weeks that contain DST changes and holidays, plus random ones.
	starts := []time.Time{
		time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC),   // US spring forward
		time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC),  // EU spring forward
		time.Date(2026, 10, 22, 0, 0, 0, 0, time.UTC), // EU fall back
		time.Date(2026, 10, 29, 0, 0, 0, 0, time.UTC), // US fall back
		time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),   // Holy week, Easter Monday
		time.Date(2027, 12, 27, 0, 0, 0, 0, time.UTC), // US New Year observed on 31 Dec
	}
	for range 6 {
		starts = append(starts, time.Unix(rng.Int64N(hi-lo)*60+lo*60, 0).UTC())
	}

	const week = 7 * 24 * 60
	const tail = 10 * 24 * 60 // longest hold looked at past the week's end
	for _, r := range cases {
		rule, _ := tbl.Rule(r.Country)
		zones := r.Timezones
		if len(zones) == 0 {
			zones = rule.Timezones
		}
		var locs []*time.Location
		for _, z := range zones {
			loc, err := time.LoadLocation(z)
			if err != nil {
				t.Fatal(err)
			}
			locs = append(locs, loc)
		}
		or := newOracle(rule, locs)
		for _, start := range starts {
			// next[i] = first minute ≥ i allowed by the oracle (−1: none within the tail)
			allowed := make([]bool, week+tail)
			for i := range allowed {
				allowed[i] = or.allowed(start.Add(time.Duration(i) * time.Minute))
			}
			next := make([]int, len(allowed)+1)
			next[len(allowed)] = -1
			for i := len(allowed) - 1; i >= 0; i-- {
				if allowed[i] {
					next[i] = i
				} else {
					next[i] = next[i+1]
				}
			}
			for i := range week {
				// Every minute near a change of the oracle's answer, one in ten elsewhere.
				edge := false
				for j := max(i-3, 0); j <= i+3; j++ {
					edge = edge || allowed[j] != allowed[i]
				}
				if !edge && rng.IntN(10) != 0 {
					continue
				}
				sec := time.Duration(rng.IntN(60)) * time.Second
				at := start.Add(time.Duration(i)*time.Minute + sec)
				d, err := tbl.NextSendTime(at, r, Marketing)
				if err != nil {
					t.Fatalf("%v at %s: %v", r, at, err)
				}
				var want time.Time
				switch {
				case allowed[i]:
					want = at
				case next[i] >= 0:
					want = start.Add(time.Duration(next[i]) * time.Minute)
				default:
					t.Fatalf("%v at %s: no allowed minute in the oracle's horizon", r, at)
				}
				if !d.SendAt.Equal(want) || d.Held != !allowed[i] {
					t.Fatalf("%v %s at %s: SendAt %s held %v, want %s (allowed now: %v)",
						r.Country, zones, at, d.SendAt, d.Held, want.UTC(), allowed[i])
				}
				if !or.allowed(d.SendAt) {
					t.Fatalf("%v at %s: SendAt %s not allowed", r, at, d.SendAt)
				}
			}
		}
	}
}

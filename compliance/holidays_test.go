package compliance

import (
	"slices"
	"testing"
	"time"

	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/us"
)

func TestEasterSunday(t *testing.T) {
	// Known Gregorian Easter dates, including the earliest (22 March) and latest (25 April) possible.
	want := map[int]string{
		2008: "2008-03-23", 2019: "2019-04-21", 2024: "2024-03-31", 2025: "2025-04-20",
		2026: "2026-04-05", 2027: "2027-03-28", 2028: "2028-04-16", 2038: "2038-04-25", 2285: "2285-03-22",
	}
	for y, w := range want {
		if got := dateOf(easterSunday(y)).String(); got != w {
			t.Errorf("easterSunday(%d) = %s, want %s", y, got, w)
		}
		if wd := easterSunday(y).Weekday(); wd != time.Sunday {
			t.Errorf("easterSunday(%d) is a %s", y, wd)
		}
	}
}

// The official lists of Colombia's national holidays (Ley 51 de 1983 applied), written out.
// 2025: Sagrado Corazón and San Pedro y San Pablo both fall on Monday 30 June, so 17 dates.
var colombiaOfficial = map[int][]string{
	2025: {
		"2025-01-01", "2025-01-06", "2025-03-24", "2025-04-17", "2025-04-18", "2025-05-01",
		"2025-06-02", "2025-06-23", "2025-06-30", "2025-07-20", "2025-08-07", "2025-08-18",
		"2025-10-13", "2025-11-03", "2025-11-17", "2025-12-08", "2025-12-25",
	},
	2026: {
		"2026-01-01", "2026-01-12", "2026-03-23", "2026-04-02", "2026-04-03", "2026-05-01",
		"2026-05-18", "2026-06-08", "2026-06-15", "2026-06-29", "2026-07-20", "2026-08-07",
		"2026-08-17", "2026-10-12", "2026-11-02", "2026-11-16", "2026-12-08", "2026-12-25",
	},
	2027: {
		"2027-01-01", "2027-01-11", "2027-03-22", "2027-03-25", "2027-03-26", "2027-05-01",
		"2027-05-10", "2027-05-31", "2027-06-07", "2027-07-05", "2027-07-20", "2027-08-07",
		"2027-08-16", "2027-10-18", "2027-11-01", "2027-11-15", "2027-12-08", "2027-12-25",
	},
}

func TestColombiaHolidays(t *testing.T) {
	for year, want := range colombiaOfficial {
		var got []string
		for _, h := range Colombia.Holidays(year) {
			if h.Date.Year != year {
				t.Errorf("%d: %s dated %s", year, h.Name, h.Date)
			}
			if s := h.Date.String(); !slices.Contains(got, s) {
				got = append(got, s)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("Colombia %d:\n got %v\nwant %v", year, got, want)
		}
	}
}

func TestColombiaMovedHolidaysAreMondays(t *testing.T) {
	fixedOrEaster := map[string]bool{
		"Año Nuevo": true, "Jueves Santo": true, "Viernes Santo": true, "Día del Trabajo": true,
		"Día de la Independencia": true, "Batalla de Boyacá": true,
		"Día de la Inmaculada Concepción": true, "Navidad": true,
	}
	for year := 1990; year <= 2100; year++ {
		hs := Colombia.Holidays(year)
		if len(hs) != 18 {
			t.Fatalf("%d: %d holidays, want 18", year, len(hs))
		}
		for _, h := range hs {
			wd := time.Date(h.Date.Year, h.Date.Month, h.Date.Day, 12, 0, 0, 0, time.UTC).Weekday()
			if !fixedOrEaster[h.Name] && wd != time.Monday {
				t.Errorf("%d: %s on %s (%s), want a Monday", year, h.Name, h.Date, wd)
			}
		}
	}
}

func TestHolidaySet(t *testing.T) {
	frSet := newHolidaySet(libCalendar(fr.Holidays))
	for _, tt := range []struct {
		d    Date
		name string
		ok   bool
	}{
		{Date{2026, time.April, 6}, "Lundi de Pâques", true},
		{Date{2026, time.May, 25}, "Lundi de Pentecôte", true},
		{Date{2026, time.July, 14}, "Fête Nationale", true},
		{Date{2027, time.May, 1}, "Fête du Travail", true},
		{Date{2026, time.April, 7}, "", false},
		{Date{2026, time.December, 26}, "", false}, // not a holiday in France (except Alsace-Moselle)
	} {
		name, ok := frSet.name(tt.d)
		if ok != tt.ok || name != tt.name {
			t.Errorf("FR %s = %q %v, want %q %v", tt.d, name, ok, tt.name, tt.ok)
		}
	}
	// Observed days count, also across a year boundary: 1 January 2028 is a Saturday, observed
	// on Friday 31 December 2027 in the US.
	usSet := newHolidaySet(libCalendar(us.Holidays))
	if _, ok := usSet.name(Date{2027, time.December, 31}); !ok {
		t.Error("US 2027-12-31 (New Year's Day observed) is not a holiday")
	}
	if _, ok := usSet.name(Date{2026, time.July, 3}); !ok {
		t.Error("US 2026-07-03 (Independence Day observed) is not a holiday")
	}
	coSet := newHolidaySet(Colombia)
	if name, _ := coSet.name(Date{2025, time.June, 30}); name != "Sagrado Corazón de Jesús / San Pedro y San Pablo" {
		t.Errorf("CO 2025-06-30 = %q", name)
	}
}

package compliance

import (
	"time"

	"github.com/rickar/cal/v2"
)

// Date is a civil date (no time zone): holidays are local dates wherever the recipient is.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
}

func dateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// Holiday is one public holiday.
type Holiday struct {
	Date Date
	Name string
}

// Calendar gives a country's public holidays for a year. Implementations must be pure.
type Calendar interface {
	Holidays(year int) []Holiday
}

// libCalendar adapts a github.com/rickar/cal/v2 country list (e.g. fr.Holidays). Both the actual
// and the observed (substitute) day of each holiday count as holidays.
type libCalendar []*cal.Holiday

func (c libCalendar) Holidays(year int) []Holiday {
	var out []Holiday
	for _, h := range c {
		// Holiday.Calc is pure (the cal.Calendar type caches; it is not used). Its times are
		// midnight in cal.DefaultLoc, so their date fields are the civil date whatever that is.
		actual, observed := h.Calc(year)
		if actual.IsZero() {
			continue
		}
		out = append(out, Holiday{dateOf(actual), h.Name})
		if o := dateOf(observed); !observed.IsZero() && o != dateOf(actual) {
			out = append(out, Holiday{o, h.Name + " (observed)"})
		}
	}
	return out
}

// Colombia is Colombia's calendar of national public holidays ("días festivos"), which rickar/cal
// does not cover: Ley 37 de 1905 and Ley 51 de 1983 ("Ley Emiliani", which moves seven holidays
// and three Easter-based ones to the following Monday).
var Colombia Calendar = colombia{}

type colombia struct{}

func (colombia) Holidays(year int) []Holiday {
	easter := easterSunday(year)
	fixed := func(m time.Month, d int, name string) Holiday {
		return Holiday{Date{year, m, d}, name}
	}
	// nextMonday moves a date to the following Monday unless it is a Monday (Ley 51 de 1983).
	nextMonday := func(t time.Time, name string) Holiday {
		for t.Weekday() != time.Monday {
			t = t.AddDate(0, 0, 1)
		}
		return Holiday{dateOf(t), name}
	}
	on := func(m time.Month, d int) time.Time { return time.Date(year, m, d, 12, 0, 0, 0, time.UTC) }
	fromEaster := func(days int) time.Time { return easter.AddDate(0, 0, days) }
	return []Holiday{
		fixed(time.January, 1, "Año Nuevo"),
		nextMonday(on(time.January, 6), "Día de los Reyes Magos"),
		nextMonday(on(time.March, 19), "Día de San José"),
		{dateOf(fromEaster(-3)), "Jueves Santo"},
		{dateOf(fromEaster(-2)), "Viernes Santo"},
		fixed(time.May, 1, "Día del Trabajo"),
		nextMonday(fromEaster(39), "Ascensión del Señor"),      // Thursday +39 → Monday +43
		nextMonday(fromEaster(60), "Corpus Christi"),           // Thursday +60 → Monday +64
		nextMonday(fromEaster(68), "Sagrado Corazón de Jesús"), // Friday +68 → Monday +71
		nextMonday(on(time.June, 29), "San Pedro y San Pablo"),
		fixed(time.July, 20, "Día de la Independencia"),
		fixed(time.August, 7, "Batalla de Boyacá"),
		nextMonday(on(time.August, 15), "La Asunción de la Virgen"),
		nextMonday(on(time.October, 12), "Día de la Raza"),
		nextMonday(on(time.November, 1), "Día de Todos los Santos"),
		nextMonday(on(time.November, 11), "Independencia de Cartagena"),
		fixed(time.December, 8, "Día de la Inmaculada Concepción"),
		fixed(time.December, 25, "Navidad"),
	}
}

// easterSunday is Western (Gregorian) Easter Sunday, at noon UTC, by the anonymous
// Gregorian algorithm (Meeus/Jones/Butcher).
func easterSunday(year int) time.Time {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(year, time.Month(month), day, 12, 0, 0, 0, time.UTC)
}

// holidaySet memoises a calendar's holidays by year for one computation.
type holidaySet struct {
	cal   Calendar
	years map[int]map[Date]string
}

func newHolidaySet(c Calendar) *holidaySet {
	return &holidaySet{cal: c, years: map[int]map[Date]string{}}
}

// name returns the holiday's name and true when d is a holiday.
func (s *holidaySet) name(d Date) (string, bool) {
	if s == nil || s.cal == nil {
		return "", false
	}
	y, ok := s.years[d.Year]
	if !ok {
		y = map[Date]string{}
		// A substitute day can fall in a neighbouring year (1 January on a Saturday observed on
		// 31 December), so the neighbouring years' lists are read too.
		for year := d.Year - 1; year <= d.Year+1; year++ {
			for _, h := range s.cal.Holidays(year) {
				if h.Date.Year != d.Year {
					continue
				}
				if prev, dup := y[h.Date]; dup && prev != h.Name {
					y[h.Date] = prev + " / " + h.Name
				} else {
					y[h.Date] = h.Name
				}
			}
		}
		s.years[d.Year] = y
	}
	n, ok := y[d]
	return n, ok
}

package compliance

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// local is the instant of wall time "2006-01-02 15:04" in zone.
func local(t *testing.T, zone, wall string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", wall, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	paris    = "Europe/Paris"
	bogota   = "America/Bogota"
	newYork  = "America/New_York"
	honolulu = "Pacific/Honolulu"
	losAng   = "America/Los_Angeles"
)

func TestNextSendTimeEdges(t *testing.T) {
	fr := Recipient{Country: "FR", Timezones: []string{paris}}
	co := Recipient{Country: "CO", Timezones: []string{bogota}}
	ny := Recipient{Country: "US", Timezones: []string{newYork}}
	hi := Recipient{Country: "US", Timezones: []string{honolulu}}
	tests := []struct {
		name string
		r    Recipient
		zone string
		at   string // local wall time in zone
		want string // RFC 3339 UTC; "" = not held
	}{
		// France: Mon–Sat 08:00–22:00, not on public holidays.
		{"FR Sat 21:59 open", fr, paris, "2026-03-21 21:59", ""},
		{"FR Sat 22:00 closed until Mon", fr, paris, "2026-03-21 22:00", "2026-03-23T07:00:00Z"},
		{"FR Sun 14:00 until Mon 08:00", fr, paris, "2026-03-22 14:00", "2026-03-23T07:00:00Z"},
		{"FR Mon 07:59 until 08:00", fr, paris, "2026-03-23 07:59", "2026-03-23T07:00:00Z"},
		{"FR Mon 08:00 open", fr, paris, "2026-03-23 08:00", ""},
		{"FR Mon 00:00 until 08:00", fr, paris, "2026-03-23 00:00", "2026-03-23T07:00:00Z"},
		{"FR Easter Monday holiday, from Sun", fr, paris, "2026-04-05 14:00", "2026-04-07T06:00:00Z"},
		{"FR Easter Monday holiday, during", fr, paris, "2026-04-06 10:00", "2026-04-07T06:00:00Z"},
		{"FR Sat holiday (1 May 2027), Fri 22:00", fr, paris, "2027-04-30 22:00", "2027-05-03T06:00:00Z"},
		{"FR 14 July (Tue), Mon 22:00", fr, paris, "2026-07-13 22:00", "2026-07-15T06:00:00Z"},
		// Paris DST weekends: spring forward on Sun 29 Mar 2026, back on Sun 25 Oct 2026.
		{"FR DST spring Sat 22:30 CET → Mon 08:00 CEST", fr, paris, "2026-03-28 22:30", "2026-03-30T06:00:00Z"},
		{"FR DST autumn Sat 23:00 CEST → Mon 08:00 CET", fr, paris, "2026-10-24 23:00", "2026-10-26T07:00:00Z"},
		// Colombia: Mon–Fri 07:00–19:00, Sat 08:00–15:00, not Sundays or holidays (UTC−5, no DST).
		{"CO Sat 14:59 open", co, bogota, "2026-03-07 14:59", ""},
		{"CO Sat 15:00 until Mon 07:00", co, bogota, "2026-03-07 15:00", "2026-03-09T12:00:00Z"},
		{"CO Sat 07:30 until 08:00", co, bogota, "2026-03-07 07:30", "2026-03-07T13:00:00Z"},
		{"CO Fri 18:59 open", co, bogota, "2026-03-06 18:59", ""},
		{"CO Fri 19:00 until Sat 08:00", co, bogota, "2026-03-06 19:00", "2026-03-07T13:00:00Z"},
		{"CO Sun 14:00 until Mon 07:00", co, bogota, "2026-03-08 14:00", "2026-03-09T12:00:00Z"},
		{"CO Monday holiday (Reyes, 12 Jan) → Tue 07:00", co, bogota, "2026-01-11 14:00", "2026-01-13T12:00:00Z"},
		{"CO Monday holiday, during", co, bogota, "2026-01-12 09:00", "2026-01-13T12:00:00Z"},
		{"CO Holy Thursday and Friday → Sat 08:00", co, bogota, "2026-04-01 19:00", "2026-04-04T13:00:00Z"},
		// US: every day 08:00–21:00 recipient local time; no holiday closing.
		{"US NY 20:59 open", ny, newYork, "2026-01-15 20:59", ""},
		{"US NY 21:00 until 08:00", ny, newYork, "2026-01-15 21:00", "2026-01-16T13:00:00Z"},
		{"US NY DST spring Sat 21:30 EST → Sun 08:00 EDT", ny, newYork, "2026-03-07 21:30", "2026-03-08T12:00:00Z"},
		{"US NY DST autumn Sat 21:00 EDT → Sun 08:00 EST", ny, newYork, "2026-10-31 21:00", "2026-11-01T13:00:00Z"},
		{"US NY DST spring Sun 07:59 EDT", ny, newYork, "2026-03-08 07:59", "2026-03-08T12:00:00Z"},
		{"US NY 4 July open", ny, newYork, "2026-07-04 12:00", ""},
		{"US Hawaii 03:00 HST until 08:00", hi, honolulu, "2026-01-15 03:00", "2026-01-15T18:00:00Z"},
		{"US NY 08:00 EST, the same instant", ny, newYork, "2026-01-15 08:00", ""},
		// Aliases and countries without rules.
		{"GG number follows GB: no hours", Recipient{Country: "GG"}, "Europe/Guernsey", "2026-03-22 03:00", ""},
		{"Puerto Rico follows US", Recipient{Country: "PR", Timezones: []string{"America/Puerto_Rico"}}, "America/Puerto_Rico", "2026-01-15 07:00", "2026-01-15T12:00:00Z"},
		{"JP: no rule", Recipient{Country: "JP", Timezones: []string{"Asia/Tokyo"}}, "Asia/Tokyo", "2026-03-22 03:00", ""},
		{"ES: no hours", Recipient{Country: "ES"}, "Europe/Madrid", "2026-03-22 03:00", ""},
		{"lower-case country", Recipient{Country: "fr"}, paris, "2026-03-22 14:00", "2026-03-23T07:00:00Z"},
		{"FR without zones: Europe/Paris", Recipient{Country: "FR"}, paris, "2026-03-22 14:00", "2026-03-23T07:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := local(t, tt.zone, tt.at)
			d, err := NextSendTime(at, tt.r, Marketing)
			if err != nil {
				t.Fatal(err)
			}
			want := at.UTC()
			if tt.want != "" {
				want = utc(t, tt.want)
			}
			if !d.SendAt.Equal(want) || d.SendAt.Location() != time.UTC {
				t.Errorf("SendAt = %s, want %s", d.SendAt, want.Format(time.RFC3339))
			}
			if d.Held != (tt.want != "") || (d.Reason != "") != d.Held {
				t.Errorf("Held = %v, Reason = %q", d.Held, d.Reason)
			}
			if d.RulesVersion != RulesVersion {
				t.Errorf("RulesVersion = %q", d.RulesVersion)
			}
		})
	}
}

func TestHawaiiVersusNewYork(t *testing.T) {
	at := utc(t, "2026-01-15T13:00:00Z") // 08:00 in New York, 03:00 in Honolulu
	for _, tt := range []struct {
		zones []string
		want  string
	}{
		{[]string{newYork}, "2026-01-15T13:00:00Z"},
		{[]string{honolulu}, "2026-01-15T18:00:00Z"},
		{[]string{newYork, honolulu}, "2026-01-15T18:00:00Z"}, // open in all zones
		{[]string{newYork, losAng}, "2026-01-15T16:00:00Z"},
		{nil, "2026-01-15T16:00:00Z"}, // unknown zone: the US default zones, ET to PT
	} {
		d, err := NextSendTime(at, Recipient{Country: "US", Timezones: tt.zones}, Marketing)
		if err != nil {
			t.Fatal(err)
		}
		if want := utc(t, tt.want); !d.SendAt.Equal(want) {
			t.Errorf("%v: SendAt = %s, want %s", tt.zones, d.SendAt, want)
		}
	}
	// Late evening: New York closes at 21:00 (02:00Z) while Honolulu is open until 07:00Z, so a
	// number in both may go only within 18:00Z–02:00Z.
	d, _ := NextSendTime(utc(t, "2026-01-16T02:00:00Z"), Recipient{Country: "US", Timezones: []string{newYork, honolulu}}, Marketing)
	if want := utc(t, "2026-01-16T18:00:00Z"); !d.SendAt.Equal(want) {
		t.Errorf("NY+HI at 02:00Z: SendAt = %s, want %s", d.SendAt, want)
	}
}

func TestNextSendTimeReason(t *testing.T) {
	for _, tt := range []struct {
		r    Recipient
		zone string
		at   string
		want string
	}{
		{Recipient{Country: "FR", Timezones: []string{paris}}, paris, "2026-03-22 14:00",
			"France: marketing SMS allowed Mon–Sat 08:00–22:00 Europe/Paris time, not on public holidays; held until Mon 2026-03-23 08:00 Europe/Paris"},
		{Recipient{Country: "FR", Timezones: []string{paris}}, paris, "2026-04-06 10:00",
			"France: marketing SMS allowed Mon–Sat 08:00–22:00 Europe/Paris time, not on public holidays; Mon 2026-04-06 is a public holiday (Lundi de Pâques); held until Tue 2026-04-07 08:00 Europe/Paris"},
		{Recipient{Country: "CO", Timezones: []string{bogota}}, bogota, "2026-03-07 15:00",
			"Colombia: marketing SMS allowed Mon–Fri 07:00–19:00, Sat 08:00–15:00 America/Bogota time, not on public holidays; held until Mon 2026-03-09 07:00 America/Bogota"},
		{Recipient{Country: "US", Timezones: []string{newYork, honolulu}}, newYork, "2026-01-15 08:00",
			"United States: marketing SMS allowed every day 08:00–21:00 in each of the number's time zones (America/New_York, Pacific/Honolulu); held until Thu 2026-01-15 13:00 America/New_York (Thu 08:00 Pacific/Honolulu)"},
	} {
		d, err := NextSendTime(local(t, tt.zone, tt.at), tt.r, Marketing)
		if err != nil {
			t.Fatal(err)
		}
		if d.Reason != tt.want {
			t.Errorf("Reason =\n %q\nwant\n %q", d.Reason, tt.want)
		}
	}
}

func TestTransactionalNeverHeld(t *testing.T) {
	at := local(t, paris, "2026-04-06 03:00") // Easter Monday, night
	for _, country := range []string{"FR", "CO", "US", "IE", "JP", ""} {
		d, err := NextSendTime(at, Recipient{Country: country}, Transactional)
		if err != nil || d.Held || !d.SendAt.Equal(at) || d.Reason != "" {
			t.Errorf("%s: %+v, %v", country, d, err)
		}
		if want := map[string]string{"FR": "FR", "CO": "CO", "US": "US", "IE": "IE"}[country]; d.Country != want {
			t.Errorf("%s: Country = %q, want %q", country, d.Country, want)
		}
	}
}

func TestNextSendTimeErrors(t *testing.T) {
	at := utc(t, "2026-01-15T13:00:00Z")
	if _, err := NextSendTime(at, Recipient{Country: "FR"}, "promo"); !errors.Is(err, ErrCategory) {
		t.Errorf("bad category: %v", err)
	}
	if _, err := NextSendTime(at, Recipient{Country: "FR", Timezones: []string{"Mars/Olympus"}}, Marketing); !errors.Is(err, ErrUnknownTimezone) {
		t.Errorf("bad zone: %v", err)
	}
	tbl := DefaultTable()
	tbl.Rules["XX"] = Rule{Country: "XX", Name: "Nowhere", Hours: &Week{}, Timezones: []string{"UTC"}}
	if _, err := tbl.NextSendTime(at, Recipient{Country: "XX"}, Marketing); !errors.Is(err, ErrNoWindow) {
		t.Errorf("closed week: %v", err)
	}
	if err := tbl.Validate(); err != nil {
		t.Errorf("a closed week is valid data: %v", err)
	}
}

func TestParseCategory(t *testing.T) {
	for in, want := range map[string]Category{"marketing": Marketing, " Transactional ": Transactional} {
		if got, err := ParseCategory(in); err != nil || got != want {
			t.Errorf("ParseCategory(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseCategory("promo"); !errors.Is(err, ErrCategory) || !strings.Contains(err.Error(), "INVALID_MESSAGE_TYPE") {
		t.Errorf("ParseCategory(promo): %v", err)
	}
}

func TestOverriddenTable(t *testing.T) {
	tbl := DefaultTable()
	tbl.Version = "portal-42.1"
	// Germany: a caller adds hours and closes public holidays.
	de := tbl.Rules["DE"]
	week := every(monFri, Window{At(9, 0), At(20, 0)})
	de.Hours, de.ClosedOnHolidays = &week, true
	tbl.Rules["DE"] = de
	// France: a caller drops the holiday closing.
	frRule := tbl.Rules["FR"]
	frRule.ClosedOnHolidays = false
	tbl.Rules["FR"] = frRule
	if err := tbl.Validate(); err != nil {
		t.Fatal(err)
	}

	// Fri 3 Oct 2025 is German Unity Day: Thu 20:00 → Mon 6 Oct 09:00 CEST.
	d, err := tbl.NextSendTime(local(t, "Europe/Berlin", "2025-10-02 20:00"), Recipient{Country: "DE"}, Marketing)
	if err != nil {
		t.Fatal(err)
	}
	if want := utc(t, "2025-10-06T07:00:00Z"); !d.SendAt.Equal(want) || d.RulesVersion != "portal-42.1" {
		t.Errorf("DE: %s %q, want %s", d.SendAt, d.RulesVersion, want)
	}
	d, _ = tbl.NextSendTime(local(t, paris, "2026-04-06 10:00"), Recipient{Country: "FR"}, Marketing)
	if d.Held {
		t.Errorf("FR with holidays open: held %s", d.Reason)
	}
	// The default table is untouched.
	d, _ = NextSendTime(local(t, paris, "2026-04-06 10:00"), Recipient{Country: "FR"}, Marketing)
	if !d.Held {
		t.Error("default table changed by a caller's copy")
	}
	if _, ok := DefaultTable().Rules["DE"]; !ok || DefaultTable().Rules["DE"].Hours != nil {
		t.Error("DefaultTable shares data between calls")
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultTable().Validate(); err != nil {
		t.Fatalf("default table: %v", err)
	}
	bad := []func(*Table){
		func(t *Table) { r := t.Rules["FR"]; r.Country = "FX"; t.Rules["FR"] = r },
		func(t *Table) { r := t.Rules["FR"]; r.Holidays = nil; t.Rules["FR"] = r },
		func(t *Table) { r := t.Rules["FR"]; r.Timezones = []string{"Nowhere/City"}; t.Rules["FR"] = r },
		func(t *Table) { r := t.Rules["FR"]; r.Timezones = nil; t.Rules["FR"] = r },
		func(t *Table) {
			r := t.Rules["CO"]
			w := every(monFri, Window{At(19, 0), At(7, 0)})
			r.Hours = &w
			t.Rules["CO"] = r
		},
		func(t *Table) { r := t.Rules["US"]; r.Content[0].Action = "drop"; t.Rules["US"] = r },
	}
	for i, mutate := range bad {
		tbl := DefaultTable()
		mutate(tbl)
		if err := tbl.Validate(); err == nil {
			t.Errorf("bad table %d validated", i)
		}
	}
}

func TestHoursText(t *testing.T) {
	tbl := DefaultTable()
	for country, want := range map[string]string{
		"FR": "Mon–Sat 08:00–22:00",
		"CO": "Mon–Fri 07:00–19:00, Sat 08:00–15:00",
		"US": "every day 08:00–21:00",
		"ES": "at any time",
	} {
		if got := hoursText(tbl.Rules[country].Hours); got != want {
			t.Errorf("%s: %q, want %q", country, got, want)
		}
	}
	w := Week{time.Sunday: {{At(10, 0), At(12, 0)}, {At(14, 0), At(24, 0)}}}
	if got := hoursText(&w); got != "Sun 10:00–12:00 and 14:00–24:00" {
		t.Errorf("split day: %q", got)
	}
}

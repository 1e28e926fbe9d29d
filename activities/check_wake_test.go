package activities

import (
	"strings"
	"testing"
	"time"
)

// A message deferred by a full quota wakes at the first instant that is both in the next quota
// period (UTC days and months) and in its country's window, in the number's zones.
func TestQuotaWake(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name        string
		resets      string // the end of the period reached (00:00 UTC)
		country     string
		zones       []string
		messageType string
		shift       time.Duration
		want        string
		inWindow    bool // the reason names the window
	}{
		{name: "French marketing, next day: 08:00 Paris (CET)", resets: "2026-03-18T00:00:00Z", country: "FR", messageType: "marketing",
			want: "2026-03-18T07:00:00Z", inWindow: true},
		{name: "French marketing, next day a Sunday: Monday 08:00 Paris", resets: "2026-03-22T00:00:00Z", country: "FR", messageType: "marketing",
			want: "2026-03-23T07:00:00Z", inWindow: true},
		{name: "French marketing, next month: 08:00 Paris (CEST)", resets: "2026-04-01T00:00:00Z", country: "FR", messageType: "marketing",
			want: "2026-04-01T06:00:00Z", inWindow: true},
		{name: "French marketing, next day a public holiday (1 May): Saturday 08:00", resets: "2026-05-01T00:00:00Z", country: "FR",
			messageType: "marketing", want: "2026-05-02T06:00:00Z", inWindow: true},
		{name: "French marketing, the number's own zone (Réunion, UTC+4)", resets: "2026-03-18T00:00:00Z", country: "FR",
			zones: []string{"Indian/Reunion"}, messageType: "marketing", want: "2026-03-18T04:00:00Z", inWindow: true},
		{name: "French transactional: the period's start", resets: "2026-03-18T00:00:00Z", country: "FR", messageType: "transactional",
			want: "2026-03-18T00:00:00Z"},
		{name: "US marketing, 00:00 UTC is evening in every US zone: open", resets: "2026-03-18T00:00:00Z", country: "US",
			messageType: "marketing", want: "2026-03-18T00:00:00Z"},
		{name: "Colombian marketing: 00:00 UTC is 19:00 in Bogotá, closed; 07:00 Bogotá", resets: "2026-03-18T00:00:00Z", country: "CO",
			messageType: "marketing", want: "2026-03-18T12:00:00Z", inWindow: true},
		{name: "country without hours: the period's start", resets: "2026-03-22T00:00:00Z", country: "DE", messageType: "marketing",
			want: "2026-03-22T00:00:00Z"},
		{name: "no country (a workflow from before): the period's start", resets: "2026-03-22T00:00:00Z", messageType: "marketing",
			want: "2026-03-22T00:00:00Z"},
		{name: "compliance clock shifted a day ahead: Sunday seen, Monday 08:00 seen", resets: "2026-03-21T00:00:00Z", country: "FR",
			messageType: "marketing", shift: 24 * time.Hour, want: "2026-03-22T07:00:00Z", inWindow: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &Activities{Config: Config{ComplianceClock: ComplianceClock{Shift: c.shift}}}
			got, why := a.quotaWake(utc(c.resets), DispatchCheckInput{Country: c.country, Timezones: c.zones, MessageType: c.messageType})
			if !got.Equal(utc(c.want)) {
				t.Errorf("wake = %s, want %s (%s)", got.UTC().Format(time.RFC3339), c.want, why)
			}
			if c.inWindow != strings.Contains(why, "held until") {
				t.Errorf("reason %q, want one naming the window: %v", why, c.inWindow)
			}
		})
	}
}

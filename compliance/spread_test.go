package compliance

import (
	"fmt"
	"testing"
	"time"
)

// How long a window stays open from an instant, bounded by the limit asked.
func TestOpenFor(t *testing.T) {
	table := DefaultTable()
	fr := Recipient{Country: "FR"}
	cases := []struct {
		name string
		at   time.Time
		r    Recipient
		c    Category
		want time.Duration
	}{
		{"Monday 08:00 Paris: open all day", local(t, paris, "2026-03-23 08:00"), fr, Marketing, time.Hour},
		{"Monday 21:50 Paris: 10 minutes left", local(t, paris, "2026-03-23 21:50"), fr, Marketing, 10 * time.Minute},
		{"Sunday Paris: closed", local(t, paris, "2026-03-22 14:00"), fr, Marketing, 0},
		{"Saturday 14:55 Bogotá: 5 minutes left", local(t, bogota, "2026-03-21 14:55"), Recipient{Country: "CO"}, Marketing, 5 * time.Minute},
		{"transactional: never closes", local(t, paris, "2026-03-22 14:00"), fr, Transactional, time.Hour},
		{"country without a rule", local(t, paris, "2026-03-22 14:00"), Recipient{Country: "ZZ"}, Marketing, time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := table.OpenFor(c.at, c.r, c.c, time.Hour)
			if err != nil || got != c.want {
				t.Fatalf("OpenFor = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

// A message's offset depends on its key alone, stays in the span, and many keys cover the span
// evenly.
func TestSpreadOffset(t *testing.T) {
	span := 15 * time.Minute
	if a, b := SpreadOffset("msg-1", span), SpreadOffset("msg-1", span); a != b {
		t.Fatalf("offsets of the same key differ: %v, %v", a, b)
	}
	if got := SpreadOffset("msg-1", 0); got != 0 {
		t.Fatalf("offset in an empty span = %v", got)
	}
	const n, buckets = 30000, 15
	var count [buckets]int
	for i := 0; i < n; i++ {
		off := SpreadOffset(fmt.Sprintf("8c6f0c1e-%08d", i), span)
		if off < 0 || off >= span {
			t.Fatalf("offset %v outside [0, %v)", off, span)
		}
		count[off*buckets/span]++
	}
	for i, c := range count {
		if c < n/buckets*8/10 || c > n/buckets*12/10 {
			t.Errorf("minute %d holds %d of %d messages, want about %d", i, c, n, n/buckets)
		}
	}
}

// A wake-up at a window's opening moves within the span; near the window's end the span shrinks,
// so no message leaves its window; the same key always moves the same way.
func TestSpreadStaysInWindow(t *testing.T) {
	table := DefaultTable()
	fr := Recipient{Country: "FR", Timezones: []string{paris}}
	opening := local(t, paris, "2026-03-23 08:00")
	late := local(t, paris, "2026-03-23 21:58")
	closes := local(t, paris, "2026-03-23 22:00")
	span := 15 * time.Minute
	var spread bool
	for i := 0; i < 2000; i++ {
		key := fmt.Sprintf("msg-%d", i)
		w, err := table.Spread(opening, key, span, fr, Marketing)
		if err != nil {
			t.Fatal(err)
		}
		if w.Before(opening) || !w.Before(opening.Add(span)) {
			t.Fatalf("%s wakes at %v, want within [%v, +%v)", key, w, opening, span)
		}
		spread = spread || w.Sub(opening) > time.Minute
		if again, _ := table.Spread(opening, key, span, fr, Marketing); !again.Equal(w) {
			t.Fatalf("%s wakes at %v, then %v", key, w, again)
		}
		lw, err := table.Spread(late, key, span, fr, Marketing)
		if err != nil {
			t.Fatal(err)
		}
		if lw.Before(late) || !lw.Before(closes) {
			t.Fatalf("%s wakes at %v, after the window closes at %v", key, lw, closes)
		}
		if d, _ := table.NextSendTime(lw, fr, Marketing); d.Held {
			t.Fatalf("%s wakes at %v, outside its window", key, lw)
		}
	}
	if !spread {
		t.Fatal("no message moved more than a minute")
	}
	if w, _ := table.Spread(opening, "msg-1", 0, fr, Marketing); !w.Equal(opening) {
		t.Fatalf("no span: wakes at %v, want the opening", w)
	}
}

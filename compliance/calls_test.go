package compliance

import "testing"

func TestCallWindows(t *testing.T) {
	calls := CallTable()
	if err := calls.Validate(); err != nil {
		t.Fatal(err)
	}
	fr := Recipient{Country: "FR", Timezones: []string{paris}}
	es := Recipient{Country: "ES", Timezones: []string{"Europe/Madrid"}}
	ny := Recipient{Country: "US", Timezones: []string{newYork}}
	co := Recipient{Country: "CO", Timezones: []string{bogota}}
	tests := []struct {
		name string
		r    Recipient
		zone string
		at   string // local wall time
		want string // local wall time of the opening in zone; "" = not held
	}{
		// France: Mon–Fri 10:00–13:00 and 14:00–20:00, never weekends or public holidays.
		{"FR Sat 11:00 held to Mon 10:00", fr, paris, "2026-03-21 11:00", "2026-03-23 10:00"},
		{"FR Sun 15:00 held to Mon 10:00", fr, paris, "2026-03-22 15:00", "2026-03-23 10:00"},
		{"FR Mon 09:59 held to 10:00", fr, paris, "2026-03-23 09:59", "2026-03-23 10:00"},
		{"FR Mon 10:00 open", fr, paris, "2026-03-23 10:00", ""},
		{"FR Mon 12:59 open", fr, paris, "2026-03-23 12:59", ""},
		{"FR Mon 13:00 lunch until 14:00", fr, paris, "2026-03-23 13:00", "2026-03-23 14:00"},
		{"FR Mon 19:59 open", fr, paris, "2026-03-23 19:59", ""},
		{"FR Mon 20:00 held to Tue 10:00", fr, paris, "2026-03-23 20:00", "2026-03-24 10:00"},
		{"FR Fri 20:30 held over the weekend", fr, paris, "2026-03-27 20:30", "2026-03-30 10:00"},
		// Thu 14 May 2026 is Ascension: the next call is Fri 15 May.
		{"FR Ascension held to Friday", fr, paris, "2026-05-14 11:00", "2026-05-15 10:00"},
		// Whit Monday 25 May 2026 after a weekend: Tue 26 May.
		{"FR Sat before Whit Monday held to Tue", fr, paris, "2026-05-23 11:00", "2026-05-26 10:00"},
		// Spain: Mon–Fri 09:00–21:00, not on holidays.
		{"ES Sat held to Mon 09:00", es, "Europe/Madrid", "2026-03-21 12:00", "2026-03-23 09:00"},
		{"ES Mon 20:59 open", es, "Europe/Madrid", "2026-03-23 20:59", ""},
		// United States: every day 08:00–21:00.
		{"US Sat 10:00 open", ny, newYork, "2026-03-21 10:00", ""},
		{"US 21:00 held to 08:00", ny, newYork, "2026-03-21 21:00", "2026-03-22 08:00"},
		// Colombia: Sat 08:00–15:00.
		{"CO Sat 15:00 held past Monday's San José holiday", co, bogota, "2026-03-21 15:00", "2026-03-24 07:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := calls.NextSendTime(local(t, tt.zone, tt.at), tt.r, Marketing)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if d.Held {
					t.Fatalf("held until %s, want open", d.SendAt)
				}
				return
			}
			want := local(t, tt.zone, tt.want)
			if !d.Held || !d.SendAt.Equal(want) {
				t.Fatalf("SendAt %s (held %v), want %s", d.SendAt.In(want.Location()), d.Held, want)
			}
			if d.RulesVersion != CallRulesVersion {
				t.Errorf("rules version %q", d.RulesVersion)
			}
		})
	}
}

func TestCallWindowsTransactionalAndReason(t *testing.T) {
	calls := CallTable()
	sat := local(t, paris, "2026-03-21 11:00")
	d, err := calls.NextSendTime(sat, Recipient{Country: "FR"}, Transactional)
	if err != nil || d.Held {
		t.Fatalf("a transactional call on Saturday: held %v, %v", d.Held, err)
	}
	d, err = calls.NextSendTime(sat, Recipient{Country: "FR"}, Marketing)
	if err != nil {
		t.Fatal(err)
	}
	want := "France: prospecting calls allowed Mon–Fri 10:00–13:00 and 14:00–20:00 Europe/Paris time, not on public holidays; held until Mon 2026-03-23 10:00 Europe/Paris"
	if d.Reason != want {
		t.Fatalf("reason\n %q\nwant\n %q", d.Reason, want)
	}
	// The SMS table is not changed by the call table: SMS to France may go on a Saturday.
	if d, _ := DefaultTable().NextSendTime(sat, Recipient{Country: "FR"}, Marketing); d.Held {
		t.Fatal("the SMS window of France closed on Saturday")
	}
	// A country without call rules is not held.
	if d, _ := calls.NextSendTime(sat, Recipient{Country: "DE"}, Marketing); d.Held {
		t.Fatal("a country without call rules was held")
	}
}

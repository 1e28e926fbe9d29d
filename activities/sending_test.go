package activities_test

import (
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"smsflow/activities"
	"smsflow/compliance"
	"smsflow/config"
	"smsflow/outcome"
)

// longCode is a sender number of the portal (a fake US long code).
const longCode = "+15005550100"

func TestSenderClass(t *testing.T) {
	for sender, want := range map[string]string{
		"ACME": config.ClassAlphanumeric, "Shop24": config.ClassAlphanumeric, "36180": config.ClassShortCode,
		"12345678": config.ClassShortCode, "+18005550100": config.ClassTollFree, "+33612345678": config.ClassLongCode,
		longCode: config.ClassLongCode,
	} {
		if got := activities.SenderClass(sender); got != want {
			t.Errorf("SenderClass(%q) = %s, want %s", sender, got, want)
		}
	}
}

// heldInput is a French marketing message asked for on a Sunday evening, from sender.
func heldInput(id, sender string) activities.PrepareInput {
	in := prepareInput(id, "501", map[string]string{"mobilephone": "+33612345678", "firstname": ""}, "Soldes", "marketing")
	in.Render.Now = time.Date(2026, 3, 15, 19, 0, 0, 0, paris)
	in.Message.Sender = sender
	return in
}

// Messages held until Monday 08:00 wake spread over the first 15 minutes of the window, each at
// an instant given by its id: prepared again (a retried activity, a replay's recorded result),
// a message gets the same wake-up.
func TestPrepareSpreadsHeldWakeUps(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"WAKE_SPREAD": "15m"}})
	opening := time.Date(2026, 3, 16, 8, 0, 0, 0, paris)
	const n = 40
	ids := make([]string, n)
	wakes := map[string]time.Time{}
	var latest time.Time
	for i := range ids {
		ids[i] = newID()
		p, err := s.acts.Prepare(s.ctx, heldInput(ids[i], ""))
		if err != nil {
			t.Fatal(err)
		}
		w := p.Rendered.SendAt
		if !p.Rendered.Held || w.Before(opening) || !w.Before(opening.Add(15*time.Minute)) {
			t.Fatalf("message %d wakes at %v (held %v), want within the window's first 15 minutes", i, w.In(paris), p.Rendered.Held)
		}
		if w.After(opening) && !strings.Contains(p.Rendered.HeldReason, "spread to") {
			t.Errorf("reason %q does not say the wake-up was spread", p.Rendered.HeldReason)
		}
		wakes[ids[i]] = w
		if w.After(latest) {
			latest = w
		}
	}
	if distinct := len(uniqueTimes(wakes)); distinct < n*9/10 || latest.Sub(opening) < 10*time.Minute {
		t.Fatalf("%d distinct wake-ups of %d, the latest %v after the opening; want them spread", distinct, n, latest.Sub(opening))
	}
	for _, id := range ids[:5] {
		p, err := s.acts.Prepare(s.ctx, heldInput(id, ""))
		if err != nil || !p.Rendered.SendAt.Equal(wakes[id]) {
			t.Fatalf("prepared again: %v, %v; want %v", p.Rendered.SendAt, err, wakes[id])
		}
		m, err := s.db.GetMessage(s.ctx, id)
		if err != nil || m.SendAt == nil || !m.SendAt.Equal(wakes[id]) {
			t.Fatalf("message row send_at = %v, %v; want %v", m.SendAt, err, wakes[id])
		}
	}
}

func uniqueTimes(m map[string]time.Time) map[time.Time]bool {
	out := map[time.Time]bool{}
	for _, t := range m {
		out[t.UTC()] = true
	}
	return out
}

// Held messages of a paced sender wake at its rate: a long code (1 a second) with 30 messages
// held until one opening and a 10-second spread wakes the first ten within the spread, then one
// a second.
func TestPrepareHeldWakeUpsFollowTheSenderRate(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"WAKE_SPREAD": "10s"}})
	if err := s.db.AddSender(s.ctx, portal, longCode, false, ""); err != nil {
		t.Fatal(err)
	}
	opening := time.Date(2026, 3, 16, 8, 0, 0, 0, paris)
	for i := 0; i < 30; i++ {
		p, err := s.acts.Prepare(s.ctx, heldInput(newID(), longCode))
		if err != nil {
			t.Fatal(err)
		}
		w, slot := p.Rendered.SendAt, opening.Add(time.Duration(i)*time.Second)
		switch {
		case i < 10 && (w.Before(slot) || !w.Before(opening.Add(10*time.Second))):
			t.Fatalf("message %d wakes at +%v, want in [+%ds, +10s)", i, w.Sub(opening), i)
		case i >= 10 && !w.Equal(slot):
			t.Fatalf("message %d wakes at +%v, want its slot +%ds (%s)", i, w.Sub(opening), i, p.Rendered.HeldReason)
		}
	}
}

// A sender so slow that a held message's slot falls after the window closes: that message wakes
// at the next opening instead, inside the window.
func TestPrepareHeldSlotAfterTheWindowWakesAtTheNextOpening(t *testing.T) {
	s := newStack(t, stackOptions{})
	if err := s.db.AddSender(s.ctx, portal, longCode, false, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.db.SetSenderRate(s.ctx, portal, longCode, 0.0001); err != nil { // one every 10,000 s
		t.Fatal(err)
	}
	opening := time.Date(2026, 3, 16, 8, 0, 0, 0, paris)
	tuesday := time.Date(2026, 3, 17, 8, 0, 0, 0, paris)
	for i := 0; i < 7; i++ {
		p, err := s.acts.Prepare(s.ctx, heldInput(newID(), longCode))
		if err != nil {
			t.Fatal(err)
		}
		w := p.Rendered.SendAt
		if d, _ := compliance.NextSendTime(w, compliance.Recipient{Country: "FR"}, compliance.Marketing); d.Held {
			t.Fatalf("message %d wakes at %v, outside the window", i, w.In(paris))
		}
		switch {
		case i < 6 && !w.Equal(opening.Add(time.Duration(i)*10000*time.Second)):
			t.Fatalf("message %d wakes at %v, want its slot", i, w.In(paris))
		case i == 6 && !w.Equal(tuesday):
			t.Fatalf("message %d wakes at %v (%s), want Tuesday's opening", i, w.In(paris), p.Rendered.HeldReason)
		}
	}
}

// Dispatches of one sender, started at once, leave at its rate: the sends are one interval apart
// (a long code set to 4 a second here), and a retried Dispatch keeps its slot.
func TestDispatchPacesItsSender(t *testing.T) {
	s := newStack(t, stackOptions{})
	if err := s.db.AddSender(s.ctx, portal, longCode, false, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.db.SetSenderRate(s.ctx, portal, longCode, 4); err != nil {
		t.Fatal(err)
	}
	const n = 8
	done := make([]time.Time, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in := dispatchInput(newID(), "+33612345678")
			in.From, in.Channel = longCode, "sms"
			res, err := s.acts.Dispatch(s.ctx, in)
			if err != nil || res.CarrierMessageID == "" || res.DeferUntil != nil {
				t.Errorf("dispatch %d = %+v, %v; want sent", i, res, err)
			}
			done[i] = time.Now()
		}(i)
	}
	wg.Wait()
	sort.Slice(done, func(i, j int) bool { return done[i].Before(done[j]) })
	if took := done[n-1].Sub(start); took < time.Duration(n-1)*250*time.Millisecond-50*time.Millisecond {
		t.Fatalf("%d sends of a 4-a-second sender took %v, want at least %v", n, took, time.Duration(n-1)*250*time.Millisecond)
	}
	var slots []time.Time
	rows, err := s.db.Pool.Query(s.ctx, `SELECT slot_at FROM pacing_slots WHERE lane = $1 ORDER BY slot_at`, "sender:15005550100")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v time.Time
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		slots = append(slots, v)
	}
	if len(slots) != n {
		t.Fatalf("%d slots, want %d", len(slots), n)
	}
	for i := 1; i < n; i++ {
		if gap := slots[i].Sub(slots[i-1]); gap < 250*time.Millisecond {
			t.Fatalf("slots %d and %d are %v apart, want 250ms", i-1, i, gap)
		}
	}
}

// A slot further than a dispatch waits sends the message back to its hold until the slot,
// nothing sent; retried, Dispatch gives the same slot. A run of the first version (no Channel)
// cannot go back to the hold: it waits as long as it may and goes.
func TestDispatchFarSlotIsDeferred(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"PACING_MAX_WAIT": "1s"}})
	if err := s.db.AddSender(s.ctx, portal, longCode, false, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.db.SetSenderRate(s.ctx, portal, longCode, 0.01); err != nil { // one every 100 s
		t.Fatal(err)
	}
	in := func() activities.DispatchInput {
		d := dispatchInput(newID(), "+33612345678")
		d.From, d.Channel = longCode, "sms"
		return d
	}
	if res, err := s.acts.Dispatch(s.ctx, in()); err != nil || res.CarrierMessageID == "" {
		t.Fatalf("first = %+v, %v; want sent", res, err)
	}
	second := in()
	res, err := s.acts.Dispatch(s.ctx, second)
	if err != nil || res.DeferUntil == nil || res.CarrierMessageID != "" || !strings.Contains(res.DeferReason, "paced") {
		t.Fatalf("second = %+v, %v; want deferred to its slot", res, err)
	}
	if wait := time.Until(*res.DeferUntil); wait < 90*time.Second || wait > 100*time.Second {
		t.Fatalf("deferred for %v, want about 100 s", wait)
	}
	again, err := s.acts.Dispatch(s.ctx, second)
	if err != nil || again.DeferUntil == nil || !again.DeferUntil.Equal(*res.DeferUntil) {
		t.Fatalf("retried = %+v, %v; want the same slot %v", again, err, res.DeferUntil)
	}
	if n := s.sim.Sends(second.MessageID); n != 0 {
		t.Fatalf("a deferred message was sent %d times", n)
	}
	legacy := in()
	legacy.Channel = ""
	start := time.Now()
	if res, err := s.acts.Dispatch(s.ctx, legacy); err != nil || res.CarrierMessageID == "" || res.DeferUntil != nil {
		t.Fatalf("first-version run = %+v, %v; want sent", res, err)
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Fatalf("first-version run went after %v, want after PACING_MAX_WAIT (1 s)", took)
	}
}

// A recipient gets at most 3 marketing SMS a day from a portal: the fourth is NOT_SENT
// FREQUENCY_CAPPED; transactional messages are not capped, nor counted; a retried check counts
// once; a portal that defers holds the message until the cap frees, inside the window.
func TestCheckBeforeDispatchFrequencyCap(t *testing.T) {
	s := newStack(t, stackOptions{})
	const to = "+33612345601"
	first := checkInput(to, "FR", "marketing")
	for i := 0; i < 3; i++ {
		in := first
		if i > 0 {
			in = checkInput(to, "FR", "marketing")
			in.Now = monday10.Add(time.Duration(i) * time.Hour)
		}
		if got, err := s.acts.CheckBeforeDispatch(s.ctx, in); err != nil || got != (activities.DispatchCheck{}) {
			t.Fatalf("marketing %d = %+v, %v; want it allowed", i+1, got, err)
		}
	}
	if got, err := s.acts.CheckBeforeDispatch(s.ctx, first); err != nil || got != (activities.DispatchCheck{}) {
		t.Fatalf("retried check = %+v, %v; want it allowed, counted once", got, err)
	}
	for i := 0; i < 2; i++ {
		tr := checkInput(to, "FR", "transactional")
		if got, err := s.acts.CheckBeforeDispatch(s.ctx, tr); err != nil || got != (activities.DispatchCheck{}) {
			t.Fatalf("transactional = %+v, %v; want it allowed", got, err)
		}
	}
	fourth := checkInput(to, "FR", "marketing")
	fourth.Now = monday10.Add(3 * time.Hour)
	got, err := s.acts.CheckBeforeDispatch(s.ctx, fourth)
	if err != nil || got.ErrorCode != outcome.FrequencyCapped || !strings.Contains(got.ErrorMessage, "3 marketing SMS") || got.DeferUntil != nil {
		t.Fatalf("fourth marketing = %+v, %v; want FREQUENCY_CAPPED", got, err)
	}
	if other, err := s.acts.CheckBeforeDispatch(s.ctx, checkInput("+33612345602", "FR", "marketing")); err != nil || other != (activities.DispatchCheck{}) {
		t.Fatalf("another recipient = %+v, %v; want it allowed", other, err)
	}

	if err := s.db.SetPortalSettings(s.ctx, portal, map[string]any{activities.SettingFrequencyCapOnExceed: "defer"}); err != nil {
		t.Fatal(err)
	}
	got, err = s.acts.CheckBeforeDispatch(s.ctx, fourth)
	// The first was counted on Monday 10:00 Paris: the cap frees on Tuesday 10:00, in the window.
	if want := monday10.Add(24 * time.Hour); err != nil || got.ErrorCode != "" || got.DeferUntil == nil || !got.DeferUntil.Equal(want) {
		t.Fatalf("deferred fourth = %+v, %v; want deferred until %v", got, err, want)
	}
	if err := s.db.SetPortalSettings(s.ctx, portal, map[string]any{activities.SettingFrequencyCaps: "off"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.acts.CheckBeforeDispatch(s.ctx, fourth); err != nil || got != (activities.DispatchCheck{}) {
		t.Fatalf("cap off = %+v, %v; want it allowed", got, err)
	}
}

// Concurrent checks of marketing messages to one recipient let exactly 3 through.
func TestCheckBeforeDispatchFrequencyCapConcurrent(t *testing.T) {
	s := newStack(t, stackOptions{})
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed, capped := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.acts.CheckBeforeDispatch(s.ctx, checkInput("+33612345603", "FR", "marketing"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case got == (activities.DispatchCheck{}):
				allowed++
			case got.ErrorCode == outcome.FrequencyCapped:
				capped++
			}
		}()
	}
	wg.Wait()
	if allowed != 3 || capped != n-3 {
		t.Fatalf("%d allowed, %d capped; want 3 and %d", allowed, capped, n-3)
	}
}

// A message refused by its quota after its frequency check does not keep its count.
func TestQuotaRefusalTakesBackTheFrequencyCount(t *testing.T) {
	s := newStack(t, stackOptions{})
	if err := s.db.SetQuota(s.ctx, portal, "sender", "*", 0, 0, "reject"); err != nil {
		t.Fatal(err)
	}
	in := checkInput("+33612345604", "FR", "marketing")
	if got, err := s.acts.CheckBeforeDispatch(s.ctx, in); err != nil || got.ErrorCode != outcome.QuotaExceeded {
		t.Fatalf("check = %+v, %v; want QUOTA_EXCEEDED", got, err)
	}
	var n int
	if err := s.db.Pool.QueryRow(s.ctx, `SELECT count(*) FROM frequency_sends WHERE message_id = $1`, in.MessageID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("frequency rows = %d, %v; want 0", n, err)
	}
}

// Messages deferred by a full daily quota wake spread over the first 15 minutes of the next
// period's window (08:00 Paris), each always at the same instant.
func TestQuotaDeferIsSpread(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{"WAKE_SPREAD": "15m", "FREQUENCY_CAPS": "off"}})
	if err := s.db.SetQuota(s.ctx, portal, "sender", "*", 0, 100, "defer"); err != nil {
		t.Fatal(err)
	}
	opening := time.Date(2026, 3, 17, 7, 0, 0, 0, time.UTC)
	wakes := map[string]time.Time{}
	for i := 0; i < 20; i++ {
		in := checkInput("+33612345605", "FR", "marketing")
		got, err := s.acts.CheckBeforeDispatch(s.ctx, in)
		if err != nil || got.DeferUntil == nil || got.DeferUntil.Before(opening) || !got.DeferUntil.Before(opening.Add(15*time.Minute)) {
			t.Fatalf("deferred = %+v, %v; want within 15 minutes of %v", got, err, opening)
		}
		again, err := s.acts.CheckBeforeDispatch(s.ctx, in)
		if err != nil || again.DeferUntil == nil || !again.DeferUntil.Equal(*got.DeferUntil) {
			t.Fatalf("retried = %+v, %v; want %v again", again, err, got.DeferUntil)
		}
		wakes[in.MessageID] = *got.DeferUntil
	}
	if len(uniqueTimes(wakes)) < 18 {
		t.Fatalf("%d distinct wake-ups of 20, want them spread", len(uniqueTimes(wakes)))
	}
}

// A message whose window is closed at the dispatch takes no slot of its sender: it goes back to
// the hold and takes one when it leaves.
func TestDispatchOutsideTheWindowTakesNoSlot(t *testing.T) {
	s := newStack(t, stackOptions{})
	shiftTo(s, time.Date(2026, 3, 22, 20, 0, 0, 0, paris)) // a Sunday
	in := frenchMarketing(newID())
	res, err := s.acts.Dispatch(s.ctx, in)
	if err != nil || res.DeferUntil == nil {
		t.Fatalf("result = %+v, %v; want deferred by the window", res, err)
	}
	var n int
	if err := s.db.Pool.QueryRow(s.ctx, `SELECT count(*) FROM pacing_slots WHERE message_id = $1`, in.MessageID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("slots = %d, %v; want none", n, err)
	}
	shiftTo(s, time.Date(2026, 3, 23, 10, 0, 0, 0, paris))
	if res, err := s.acts.Dispatch(s.ctx, in); err != nil || res.CarrierMessageID == "" {
		t.Fatalf("in the window = %+v, %v; want sent", res, err)
	}
	if err := s.db.Pool.QueryRow(s.ctx, `SELECT count(*) FROM pacing_slots WHERE message_id = $1`, in.MessageID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("slots = %d, %v; want one", n, err)
	}
}

package activities_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"smsflow/activities"
	"smsflow/outcome"
	"smsflow/store"
	"smsflow/voice"
)

const (
	callee = "+33612345601"
	caller = "+33900000001"
)

// countingPlacer stands for the carriers' call placer: it counts the calls it is asked to place.
type countingPlacer struct {
	mu    sync.Mutex
	calls []voice.Call
}

func (p *countingPlacer) PlaceCall(_ context.Context, c voice.Call) (voice.Receipt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, c)
	return voice.Receipt{Carrier: "fake", CarrierCallID: "CA" + c.ID[:8], PlacedAt: time.Now()}, nil
}

func (p *countingPlacer) count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.calls) }

// callStack is a stack whose portal owns the caller id and has a contact to call.
func callStack(t *testing.T) *stack {
	t.Helper()
	s := newStack(t, stackOptions{})
	if err := s.db.AddSender(s.ctx, portal, caller, false, store.SenderManual); err != nil {
		t.Fatal(err)
	}
	s.hs.SetObject(portal, "contacts", "901", map[string]string{"mobilephone": "06 12 34 56 01", "firstname": "Ana"})
	return s
}

func callPrepareInput(id string, now time.Time, sc voice.Script) activities.PrepareCallInput {
	return activities.PrepareCallInput{
		Recipient: activities.RecipientInput{PortalID: portal, ObjectType: "contact", ObjectID: "901", Country: "FR", MessageType: "marketing"},
		MessageID: id, PortalID: portal, Caller: caller, MessageType: "marketing", Script: sc, Now: now,
		Message: activities.StatusEvent{MessageID: id, PortalID: portal, ObjectType: "contact", ObjectID: "901", Channel: "ivr", Campaign: "calls"},
	}
}

func ivrScript() voice.Script {
	return voice.Script{Opening: voice.Speech{Text: "Bonjour {{contact.firstname}}, tapez 1", Language: "fr-FR"},
		Keys:     []voice.KeyAction{{Key: "1", Action: voice.ActionPlay, Speech: voice.Speech{Text: "Merci {{contact.firstname}}"}}},
		WrongKey: voice.Speech{Text: "Touche invalide"}, Repeats: 1}
}

// A prospecting call prepared on a Saturday is held to Monday 10:00 in Paris, with every text of
// its script personalized and its message log row created.
func TestPrepareCallPersonalizesAndHolds(t *testing.T) {
	s := callStack(t)
	id := newID()
	saturday := time.Date(2026, 11, 28, 11, 0, 0, 0, paris)
	p, err := s.acts.PrepareCall(s.ctx, callPrepareInput(id, saturday, ivrScript()))
	if err != nil || p.ErrorCode != "" {
		t.Fatalf("%+v, %v", p, err)
	}
	if p.Recipient.Phone != callee || p.Caller != caller {
		t.Fatalf("recipient %+v caller %q", p.Recipient, p.Caller)
	}
	if p.Script.Opening.Text != "Bonjour Ana, tapez 1" || p.Script.Keys[0].Speech.Text != "Merci Ana" || p.Script.WrongKey.Text != "Touche invalide" {
		t.Fatalf("script %+v", p.Script)
	}
	monday := time.Date(2026, 11, 30, 10, 0, 0, 0, paris)
	if !p.Held || !p.CallAt.Equal(monday) || !strings.Contains(p.HeldReason, "prospecting calls") {
		t.Fatalf("held %v until %v (%s), want Monday 10:00 Paris", p.Held, p.CallAt, p.HeldReason)
	}
	m, err := s.db.GetMessage(s.ctx, id)
	if err != nil || m.Status != "PENDING" || m.Channel != "ivr" || m.Sender != caller || m.Text != "Bonjour Ana, tapez 1" {
		t.Fatalf("message log %+v, %v", m, err)
	}
	// Transactional calls are not held.
	in := callPrepareInput(newID(), saturday, ivrScript())
	in.MessageType = "transactional"
	if p, err := s.acts.PrepareCall(s.ctx, in); err != nil || p.Held {
		t.Fatalf("transactional: held %v, %v", p.Held, err)
	}
}

func TestPrepareCallRefusals(t *testing.T) {
	s := callStack(t)
	now := time.Date(2026, 12, 1, 11, 0, 0, 0, paris)
	// A caller id the portal does not own.
	in := callPrepareInput(newID(), now, ivrScript())
	in.Caller = "+33900000099"
	if p, err := s.acts.PrepareCall(s.ctx, in); err != nil || p.ErrorCode != outcome.SenderNotAllowed {
		t.Fatalf("foreign caller: %+v, %v", p, err)
	}
	// No caller id and no default caller.
	in = callPrepareInput(newID(), now, ivrScript())
	in.Caller = ""
	if p, err := s.acts.PrepareCall(s.ctx, in); err != nil || p.ErrorCode != outcome.NoCallerID {
		t.Fatalf("no caller: %+v, %v", p, err)
	}
	// The portal's default caller.
	if err := s.db.SetPortalSettings(s.ctx, portal, map[string]any{activities.PropVoiceCallerID: caller}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.acts.PrepareCall(s.ctx, in); err != nil || p.ErrorCode != "" || p.Caller != caller {
		t.Fatalf("default caller: %+v, %v", p, err)
	}
	// A number unsubscribed from calls; an SMS suppression does not stop a call.
	if err := s.db.Suppress(s.ctx, portal, "sms", callee, "stop_reply", ""); err != nil {
		t.Fatal(err)
	}
	if p, err := s.acts.PrepareCall(s.ctx, callPrepareInput(newID(), now, ivrScript())); err != nil || p.ErrorCode != "" {
		t.Fatalf("SMS suppression stopped a call: %+v, %v", p, err)
	}
	if err := s.db.Suppress(s.ctx, portal, "voice", callee, "ivr_key", ""); err != nil {
		t.Fatal(err)
	}
	id := newID()
	if p, err := s.acts.PrepareCall(s.ctx, callPrepareInput(id, now, ivrScript())); err != nil || p.ErrorCode != outcome.OptedOut {
		t.Fatalf("voice suppression: %+v, %v", p, err)
	}
	if m, err := s.db.GetMessage(s.ctx, id); err != nil || m.Status != "PENDING" {
		t.Fatalf("a refused call has no message log row: %+v, %v", m, err)
	}
}

// Audio files are checked before the call: https, reachable, an audio type.
func TestPrepareCallChecksAudio(t *testing.T) {
	s := callStack(t)
	files := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/offer.mp3":
			w.Header().Set("Content-Type", "audio/mpeg")
		case "/get-only.wav":
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "audio/wav")
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		default:
			http.NotFound(w, r)
		}
	}))
	defer files.Close()
	s.acts.AudioHTTP = files.Client()
	now := time.Date(2026, 12, 1, 11, 0, 0, 0, paris)
	for _, tc := range []struct {
		url  string
		want outcome.Code
	}{
		{files.URL + "/offer.mp3", ""},
		{files.URL + "/get-only.wav", ""},
		{files.URL + "/page", outcome.AudioURLInvalid},
		{files.URL + "/missing.mp3", outcome.AudioURLUnreachable},
		{strings.Replace(files.URL, "https://", "http://", 1) + "/offer.mp3", outcome.AudioURLInvalid},
		{"https://127.0.0.1:1/offer.mp3", outcome.AudioURLUnreachable},
	} {
		sc := ivrScript()
		sc.Keys[0].Speech = voice.Speech{AudioURL: tc.url}
		p, err := s.acts.PrepareCall(s.ctx, callPrepareInput(newID(), now, sc))
		if err != nil || p.ErrorCode != tc.want {
			t.Errorf("%s: %s (%s), %v; want %q", tc.url, p.ErrorCode, p.ErrorMessage, err, tc.want)
		}
	}
}

func placeInput(id string) activities.PlaceCallInput {
	return activities.PlaceCallInput{MessageID: id, PortalID: portal, From: caller, To: callee, Country: "FR",
		Timezones: []string{"Europe/Paris"}, MessageType: "marketing", Script: ivrScript()}
}

// Right before the call: the voice suppression list, the window, then the script is saved and
// the call placed; a call already placed is not checked again.
func TestPlaceCallChecksRightBefore(t *testing.T) {
	s := callStack(t)
	placer := &countingPlacer{}
	s.acts.Calls = placer
	// The window is open (a Tuesday 11:00 in Paris on the compliance clock).
	s.acts.Config.ComplianceClock = activities.ComplianceClock{Shift: time.Until(time.Date(2026, 12, 1, 11, 0, 0, 0, paris))}

	id := newID()
	res, err := s.acts.PlaceCall(s.ctx, placeInput(id))
	if err != nil || res.ErrorCode != "" || res.CarrierCallID == "" || placer.count() != 1 {
		t.Fatalf("%+v, %v, %d calls", res, err, placer.count())
	}
	if c := placer.calls[0]; c.ID != id || c.From != caller || c.To != callee || !c.MachineDetection {
		t.Fatalf("placed %+v", c)
	}
	sc, owner, err := s.db.CallScript(s.ctx, id)
	if err != nil || owner != portal || sc.CallID != id || len(sc.Keys) != 1 {
		t.Fatalf("stored script %+v of %d, %v", sc, owner, err)
	}

	// Unsubscribed from calls while it waited: not placed.
	if err := s.db.Suppress(s.ctx, portal, "voice", callee, "ivr_key", ""); err != nil {
		t.Fatal(err)
	}
	other := newID()
	if res, err := s.acts.PlaceCall(s.ctx, placeInput(other)); err != nil || res.ErrorCode != outcome.OptedOut || placer.count() != 1 {
		t.Fatalf("suppressed: %+v, %v, %d calls", res, err, placer.count())
	}
	// A retry of the first call's activity, after the carrier took it: its receipt, whatever the
	// list says now (the placer returns the recorded placement; it is asked, nothing is checked).
	if err := s.db.RecordCallPlaced(s.ctx, id, caller, "fake", "CA-first"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.acts.PlaceCall(s.ctx, placeInput(id)); err != nil || res.ErrorCode != "" {
		t.Fatalf("retry of a placed call: %+v, %v", res, err)
	}
}

func TestPlaceCallDefersOutsideTheWindow(t *testing.T) {
	s := callStack(t)
	placer := &countingPlacer{}
	s.acts.Calls = placer
	// Friday 20:30 in Paris: closed until Monday 10:00.
	s.acts.Config.ComplianceClock = activities.ComplianceClock{Shift: time.Until(time.Date(2026, 11, 27, 20, 30, 0, 0, paris))}
	res, err := s.acts.PlaceCall(s.ctx, placeInput(newID()))
	if err != nil || res.DeferUntil == nil || placer.count() != 0 {
		t.Fatalf("%+v, %v, %d calls", res, err, placer.count())
	}
	opens := s.acts.Config.ComplianceClock.At(*res.DeferUntil).In(paris)
	if want := time.Date(2026, 11, 30, 10, 0, 0, 0, paris); opens.Sub(want).Abs() > time.Second {
		t.Fatalf("deferred until %v on the windows' clock, want %v", opens, want)
	}
	// A transactional call goes.
	in := placeInput(newID())
	in.MessageType = "transactional"
	if res, err := s.acts.PlaceCall(s.ctx, in); err != nil || res.DeferUntil != nil || placer.count() != 1 {
		t.Fatalf("transactional: %+v, %v, %d calls", res, err, placer.count())
	}
}

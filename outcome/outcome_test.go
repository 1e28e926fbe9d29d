package outcome

import "testing"

func TestRankNeverMovesBack(t *testing.T) {
	order := [][]Status{{Pending}, {SMSSent}, {SMSDelivered, SMSNotDelivered}, {SMSClicked, SMSResponse, SMSUnsubscribed}}
	for i := 1; i < len(order); i++ {
		for _, lo := range order[i-1] {
			for _, hi := range order[i] {
				if lo.Rank() >= hi.Rank() {
					t.Errorf("%s ranks %d, not below %s (%d)", lo, lo.Rank(), hi, hi.Rank())
				}
			}
		}
	}
	if Status("SMS_BOGUS").Rank() >= Pending.Rank() {
		t.Error("an unknown status must rank below pending")
	}
}

func TestFailedAndFinal(t *testing.T) {
	for _, s := range SMSStatuses {
		want := s == SMSNotSent || s == SMSNotDelivered
		if s.Failed() != want {
			t.Errorf("%s.Failed() = %v", s, s.Failed())
		}
	}
	for r, want := range map[Report]bool{ReportQueued: false, ReportSent: false, ReportUnknown: false,
		ReportDelivered: true, ReportUndelivered: true, ReportFailed: true} {
		if r.Final() != want {
			t.Errorf("%s.Final() = %v, want %v", r, r.Final(), want)
		}
	}
}

func TestVoiceStatuses(t *testing.T) {
	if !(VoiceSent.Rank() < VoiceDelivered.Rank() && VoiceDelivered.Rank() < VoiceKeyPressed.Rank() &&
		VoiceNotDelivered.Rank() == VoiceDelivered.Rank() && VoiceUnsubscribed.Rank() == VoiceKeyPressed.Rank()) {
		t.Fatal("voice statuses out of order: SENT > DELIVERED > KEY_PRESSED | UNSUBSCRIBED")
	}
	for _, s := range VoiceStatuses {
		if want := s == VoiceNotSent || s == VoiceNotDelivered; s.Failed() != want {
			t.Errorf("%s.Failed() = %v", s, s.Failed())
		}
	}
	if !VoiceNotSent.NotSent() || !SMSNotSent.NotSent() || VoiceNotDelivered.NotSent() {
		t.Error("NotSent")
	}
	for _, c := range []Code{VoiceContactOnly, CallBusy, CallNoAnswer, CallFailed} {
		if c.Message() == "" {
			t.Errorf("%s has no readable message", c)
		}
	}
}

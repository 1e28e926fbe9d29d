package config

import (
	"strings"
	"testing"
	"time"
)

// The sending discipline's defaults: a 15-minute spread, the usual carrier rates, 3 marketing
// messages a day and 10 a week per recipient, rejected over the cap.
func TestSendingDefaults(t *testing.T) {
	c, err := FromLookup(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sending
	if s.WakeSpread != 15*time.Minute || s.PacingMaxWait != 15*time.Second || s.FrequencyCapOnExceed != "reject" {
		t.Fatalf("sending = %+v", s)
	}
	if s.SenderRates != (SenderRates{LongCode: 1, TollFree: 3, ShortCode: 100, Alphanumeric: 30}) {
		t.Fatalf("rates = %+v", s.SenderRates)
	}
	want := []FrequencyCap{{3, 24 * time.Hour}, {10, 7 * 24 * time.Hour}}
	if len(s.FrequencyCaps) != 2 || s.FrequencyCaps[0] != want[0] || s.FrequencyCaps[1] != want[1] {
		t.Fatalf("caps = %v, want %v", s.FrequencyCaps, want)
	}
	if got := s.FrequencyCaps[0].String() + "," + s.FrequencyCaps[1].String(); got != "3/24h,10/7d" {
		t.Fatalf("caps written %q", got)
	}
	w := c.Worker
	if w != (Worker{ActivitySlots: 500, LocalActivitySlots: 500, WorkflowTaskSlots: 200, ActivityPollers: 4, WorkflowPollers: 4, StickyCacheSize: 10000}) {
		t.Fatalf("worker = %+v", w)
	}
}

func TestSendingOverrides(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{
		"WAKE_SPREAD": "0s", "SENDER_RATES": "alphanumeric=25, short_code=50", "PACING_MAX_WAIT": "5s",
		"FREQUENCY_CAPS": "off", "FREQUENCY_CAP_ON_EXCEED": "defer",
		"WORKER_ACTIVITY_SLOTS": "50", "WORKER_STICKY_CACHE": "2000", "WORKER_WORKFLOW_POLLERS": "8",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sending
	if s.WakeSpread != 0 || s.PacingMaxWait != 5*time.Second || s.FrequencyCaps != nil || s.FrequencyCapOnExceed != "defer" {
		t.Fatalf("sending = %+v", s)
	}
	if s.SenderRates != (SenderRates{LongCode: 1, TollFree: 3, ShortCode: 50, Alphanumeric: 25}) {
		t.Fatalf("rates = %+v", s.SenderRates)
	}
	if s.SenderRates.Of(ClassAlphanumeric) != 25 || s.SenderRates.Of("unknown") != 1 {
		t.Fatalf("Of: %v, %v", s.SenderRates.Of(ClassAlphanumeric), s.SenderRates.Of("unknown"))
	}
	if c.Worker.ActivitySlots != 50 || c.Worker.StickyCacheSize != 2000 || c.Worker.WorkflowPollers != 8 || c.Worker.LocalActivitySlots != 500 {
		t.Fatalf("worker = %+v", c.Worker)
	}
	caps, err := ParseFrequencyCaps("2/12h, 5/30d")
	if err != nil || len(caps) != 2 || caps[0] != (FrequencyCap{2, 12 * time.Hour}) || caps[1] != (FrequencyCap{5, 30 * 24 * time.Hour}) {
		t.Fatalf("caps = %v, %v", caps, err)
	}
}

func TestSendingErrors(t *testing.T) {
	for name, val := range map[string]string{
		"WAKE_SPREAD": "-1m", "SENDER_RATES": "pigeon=2", "PACING_MAX_WAIT": "soon", "FREQUENCY_CAPS": "3 per day",
		"FREQUENCY_CAP_ON_EXCEED": "drop", "WORKER_ACTIVITY_SLOTS": "0", "WORKER_STICKY_CACHE": "many", "WORKER_WORKFLOW_POLLERS": "1",
	} {
		if _, err := FromLookup(lookup(map[string]string{name: val})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: error %v, want one naming %s", name, val, err, name)
		}
	}
	if _, err := FromLookup(lookup(map[string]string{"SENDER_RATES": "long_code=0"})); err == nil {
		t.Error("a zero rate is accepted")
	}
}

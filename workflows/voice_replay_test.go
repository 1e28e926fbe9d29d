package workflows

import (
	"path/filepath"
	"strings"
	"testing"
)

// Every path of the call lifecycle, recorded from a real run on the dev server by the end-to-end
// tests (SMSFLOW_RECORD_HISTORIES=1, tests TestVoice* and TestIVR*) into testdata/histories/voice,
// must replay on the current code. ivr_sms_child is the SMS a key started (a SendSMS run).
var recordedCallPaths = []string{
	"delivered", "busy", "ivr_transfer", "ivr_sms", "ivr_sms_child", "ivr_unsubscribe", "opted_out",
	"ivr_wrong_key", "held_to_monday",
}

func TestReplayRecordedCallHistories(t *testing.T) {
	dir := filepath.Join("testdata", "histories", "voice")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range files {
		have[strings.TrimSuffix(filepath.Base(f), ".json")] = true
	}
	for _, p := range recordedCallPaths {
		if !have[p] {
			t.Errorf("no recorded history for the %q call path in %s", p, dir)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			replayer := newReplayer(t)
			replayer.RegisterWorkflowWithOptions(SendVoice, voiceWorkflowOptions())
			replayer.RegisterWorkflowWithOptions(SendSMS, workflowOptions())
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}

package workflows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"
)

// Every lifecycle path, recorded from a real run on the dev server by the end-to-end tests
// (SMSFLOW_RECORD_HISTORIES=1 make test, or see the README), must replay on the current code: a
// change to the command sequence that is not versioned fails here.
var recordedPaths = []string{
	"delivered", "not_delivered", "held_then_sent", "stop_during_hold", "clicked", "reply",
	"quota_exceeded", "invalid_number", "breaker_recovered",
}

func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range files {
		have[strings.TrimSuffix(filepath.Base(f), ".json")] = true
	}
	for _, p := range recordedPaths {
		if !have[p] {
			t.Errorf("no recorded history for the %q path in testdata/histories", p)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(SendSMS, workflowOptions())
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}

// The replayer must catch a changed command sequence: replaying a recorded run on a workflow that
// schedules something else fails.
func TestReplayDetectsAChangedSequence(t *testing.T) {
	f := filepath.Join("testdata", "histories", "delivered.json")
	if _, err := os.Stat(f); err != nil {
		t.Fatalf("recorded history missing: %v", err)
	}
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(changedSendSMS, workflowOptions())
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, f); err == nil {
		t.Fatal("a workflow with another command sequence replayed the recorded history without error")
	}
}

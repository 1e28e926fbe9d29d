package workflows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"

	"smsflow/payloadcodec"
	"smsflow/payloadcodec/codectest"
)

// Every lifecycle path of the current version, recorded from a real run on the dev server by the
// end-to-end tests (SMSFLOW_RECORD_HISTORIES=1 make test, or see the README) into
// testdata/histories, must replay on the current code: a change to the command sequence that is
// not versioned fails here. The runs of earlier versions stay in a folder per version
// (testdata/histories/first: versionFirst; guarantees: versionGuarantees) and must keep replaying
// too — running workflows of those versions still exist.
var recordedPaths = []string{
	"delivered", "not_delivered", "held_then_sent", "stop_during_hold", "clicked", "reply",
	"quota_exceeded", "invalid_number", "breaker_recovered",
	"stop_before_delivery", "window_closed_during_retries", "outbox_delivered_report", "failure_cleanup",
	"wait_hours_expiry", "delivery_timeout", "uncertain_send", "unsubscribe_link", "start_reply",
	"quota_defer", "disconnected_portal",
}

// newReplayer decodes as the recording harness encoded: with the tests' payload key
// (codectest.Keys, a TEST key kept in the repository). The runs of the first version were
// recorded before payloads were encrypted; the codec passes their payloads through.
func newReplayer(t *testing.T) worker.WorkflowReplayer {
	t.Helper()
	dc := codectest.DataConverter()
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
		DataConverter: dc, FailureConverter: payloadcodec.FailureConverter(dc)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// earlierVersions are the folders of recorded runs of earlier versions.
var earlierVersions = []string{"first", "guarantees"}

func TestReplayRecordedHistories(t *testing.T) {
	dir := filepath.Join("testdata", "histories")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range files {
		have[strings.TrimSuffix(filepath.Base(f), ".json")] = true
	}
	for _, p := range recordedPaths {
		if !have[p] {
			t.Errorf("no recorded history for the %q path in %s", p, dir)
		}
	}
	for _, v := range earlierVersions {
		older, err := filepath.Glob(filepath.Join(dir, v, "*.json"))
		if err != nil || len(older) == 0 {
			t.Fatalf("no recorded runs of version %q: %v", v, err)
		}
		files = append(files, older...)
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, dir+"/"), func(t *testing.T) {
			replayer := newReplayer(t)
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
	f := filepath.Join("testdata", "histories", "first", "delivered.json")
	if _, err := os.Stat(f); err != nil {
		t.Fatalf("recorded history missing: %v", err)
	}
	replayer := newReplayer(t)
	replayer.RegisterWorkflowWithOptions(changedSendSMS, workflowOptions())
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, f); err == nil {
		t.Fatal("a workflow with another command sequence replayed the recorded history without error")
	}
}

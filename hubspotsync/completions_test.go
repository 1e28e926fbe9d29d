package hubspotsync_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/hubspot"
	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/store"
)

const callbacksPath = "/automation/v4/actions/callbacks"

// completeAll runs CompleteAction for each input at once, as message workflows do, and returns
// each one's error ("" when it succeeded).
func completeAll(ctx workflow.Context, ins []activities.CompleteInput, startToClose time.Duration) ([]string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: startToClose, ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumInterval: time.Second}})
	futures := make([]workflow.Future, len(ins))
	for i, in := range ins {
		futures[i] = workflow.ExecuteActivity(ctx, "CompleteAction", in)
	}
	out := make([]string, len(ins))
	for i, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			out[i] = err.Error()
		}
	}
	return out, nil
}

// temporalEnv runs CompleteAction (batched) on a task queue of the test's own, over the env's
// database, and completes the activities from the env's sender.
type temporalEnv struct {
	*env
	tc    client.Client
	queue string
}

func newTemporalEnv(t *testing.T) *temporalEnv {
	t.Helper()
	e := newEnv(t, timelineScopes)
	tc := testenv.Temporal(t)
	queue := "hubspotsync-" + testenv.RandomID()
	acts := &activities.Activities{Store: e.db, CompleteInBatches: true}
	w := worker.New(tc, queue, worker.Options{})
	w.RegisterWorkflow(completeAll)
	w.RegisterActivityWithOptions(acts.CompleteAction, activity.RegisterOptions{Name: "CompleteAction"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	e.sender.Temporal = tc
	e.sender.CompletionPoll = 20 * time.Millisecond
	return &temporalEnv{env: e, tc: tc, queue: queue}
}

// runSender runs the sender until the test ends.
func (e *temporalEnv) runSender(t *testing.T) {
	ctx, stop := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = e.sender.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
}

// start starts completeAll for the inputs.
func (e *temporalEnv) start(t *testing.T, ins []activities.CompleteInput, startToClose time.Duration) client.WorkflowRun {
	t.Helper()
	run, err := e.tc.ExecuteWorkflow(e.ctx, client.StartWorkflowOptions{TaskQueue: e.queue, WorkflowExecutionTimeout: time.Minute},
		completeAll, ins, startToClose)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func (e *temporalEnv) results(t *testing.T, run client.WorkflowRun) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	var errs []string
	if err := run.Get(ctx, &errs); err != nil {
		t.Fatal(err)
	}
	return errs
}

// completions are the inputs of n sent messages' completions.
func (e *temporalEnv) completions(t *testing.T, n int) []activities.CompleteInput {
	t.Helper()
	var ins []activities.CompleteInput
	for i := range n {
		m := newMsg(strconv.Itoa(2000+i), e.clock.Now())
		e.publish(t, m, outcome.SMSSent, nil)
		ins = append(ins, activities.CompleteInput{PortalID: portal, CallbackID: "cb-" + m.id, MessageID: m.id,
			Outputs: map[string]string{"message_id": m.id, "sms_status": "SMS_SENT"}, FailContinue: i%5 == 4})
	}
	return ins
}

// CompleteAction makes no HubSpot call: the sender completes the queued actions in one batch,
// then their activities; a callback completed before is not completed again.
func TestActionsCompletedInABatchThenTheirActivities(t *testing.T) {
	e := newTemporalEnv(t)
	ins := e.completions(t, 5)
	// The activities run (and stay pending) before the sender does: one batch takes them all.
	run := e.start(t, ins, 30*time.Second)
	waitFor(t, func() bool { return e.queued(t) == len(ins) })
	e.runSender(t)
	for i, err := range e.results(t, run) {
		if err != "" {
			t.Errorf("completion %d failed: %s", i, err)
		}
	}
	if batches, all := e.calls(callbacksPath+"/complete"), e.calls(callbacksPath); len(batches) != 1 || inputs(batches) != 5 || len(all) != 1 {
		t.Errorf("%d HubSpot completion calls (%d batches with %d inputs), want 1 batch of 5", len(all), len(batches), inputs(batches))
	}
	for i, in := range ins {
		c := e.hs.Completed(in.CallbackID)
		want := hubspot.StateSuccess
		if in.FailContinue {
			want = hubspot.StateFailContinue
		}
		if c == nil || c.Count != 1 || c.Outputs[hubspot.OutputState] != want {
			t.Errorf("callback %d completed as %+v, want once with %s", i, c, want)
			continue
		}
		outputs, ok, err := e.db.ActionOutcome(e.ctx, in.MessageID)
		if err != nil || !ok || outputs[hubspot.OutputState] != want {
			t.Errorf("outcome of message %d recorded as %v (%v, %v)", i, outputs, ok, err)
		}
	}

	// HubSpot executing the action again: the completion is found done, nothing is called.
	before := len(e.calls(callbacksPath))
	if errs := e.results(t, e.start(t, ins[:1], 30*time.Second)); errs[0] != "" {
		t.Errorf("repeated completion: %s", errs[0])
	}
	if got := len(e.calls(callbacksPath)) - before; got != 0 || e.hs.Completed(ins[0].CallbackID).Count != 1 {
		t.Errorf("a repeated completion made %d calls", got)
	}
}

// An attempt that timed out hands its task token over to the next one, which the sender
// completes.
func TestRetriedAttemptIsTheOneCompleted(t *testing.T) {
	e := newTemporalEnv(t)
	ins := e.completions(t, 1)
	run := e.start(t, ins, time.Second)
	time.Sleep(2500 * time.Millisecond) // the first attempt timed out
	e.runSender(t)
	if errs := e.results(t, run); errs[0] != "" {
		t.Fatalf("completion failed: %s", errs[0])
	}
	if c := e.hs.Completed(ins[0].CallbackID); c == nil || c.Count != 1 {
		t.Errorf("callback completed %+v, want once", c)
	}
}

// HubSpot refusing one completion of a batch: the others are completed one by one, the refused
// one is kept on its message as a hubspot_error and its step ends without failing.
func TestPermanentRefusalOfACompletion(t *testing.T) {
	e := newTemporalEnv(t)
	ins := e.completions(t, 2)
	ins[1].Outputs[hubspot.OutputState] = "BLOCK" // a state HubSpot refuses (400)
	run := e.start(t, ins, 30*time.Second)
	waitFor(t, func() bool { return e.queued(t) == len(ins) })
	e.runSender(t)
	for i, err := range e.results(t, run) {
		if err != "" {
			t.Errorf("completion %d failed: %s", i, err)
		}
	}
	if c := e.hs.Completed(ins[0].CallbackID); c == nil || c.Count != 1 {
		t.Errorf("the good callback completed %+v, want once", c)
	}
	if c := e.hs.Completed(ins[1].CallbackID); c != nil {
		t.Errorf("the refused callback completed %+v", c)
	}
	fate, ok, err := e.db.CompletionOf(e.ctx, ins[1].CallbackID)
	if err != nil || !ok || fate.State != store.CompletionDead || fate.ErrorType != hubspot.ErrTypePermanent {
		t.Errorf("refused completion is %+v (%v, %v), want dead %s", fate, ok, err, hubspot.ErrTypePermanent)
	}
	events, err := e.db.Events(e.ctx, ins[1].MessageID)
	if err != nil {
		t.Fatal(err)
	}
	kept := false
	for _, ev := range events {
		var d map[string]string
		_ = json.Unmarshal(ev.Detail, &d)
		kept = kept || (ev.Kind == "hubspot_error" && ev.Status == hubspot.ErrTypePermanent && d["error"] != "")
	}
	if !kept {
		t.Errorf("no hubspot_error event on the refused completion's message: %+v", events)
	}
}

// queued counts the completions written.
func (e *env) queued(t testing.TB) int {
	t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(e.ctx, `SELECT count(*) FROM hubspot_completions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package retention_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"smsflow/internal/testenv"
	"smsflow/phone"
	"smsflow/retention"
	"smsflow/store"
	"smsflow/workflows"
)

var hashKey = []byte("retention-phone-key")

// heldSMS stands for a message workflow held until its window: it waits until cancelled.
func heldSMS(ctx workflow.Context, _ workflows.SMSRequest) error {
	return workflow.Await(ctx, func() bool { return false })
}

// runWorker polls a fresh task queue with the purge and a held-message stand-in; it returns the queue.
func runWorker(t *testing.T, tc client.Client, acts *retention.Activities) string {
	t.Helper()
	queue := "retention-" + testenv.RandomID()
	w := worker.New(tc, queue, worker.Options{})
	retention.Register(w, acts)
	w.RegisterWorkflowWithOptions(heldSMS, workflow.RegisterOptions{Name: workflows.SendSMSName})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return queue
}

// startHeld starts a held message of the portal, with the search attributes a message workflow
// has once its recipient is resolved, and waits until visibility lists it.
func startHeld(t *testing.T, tc client.Client, queue string, portal int64, e164 string) string {
	t.Helper()
	ctx := context.Background()
	id := workflows.SMSWorkflowID(uuid.NewString())
	sa := []temporal.SearchAttributeUpdate{workflows.PortalIDKey.ValueSet(strconv.FormatInt(portal, 10))}
	if e164 != "" {
		sa = append(sa, workflows.PhoneHashKey.ValueSet(phone.Hash(hashKey, e164)))
	}
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue,
		TypedSearchAttributes: temporal.NewSearchAttributes(sa...)}, workflows.SendSMSName, workflows.SMSRequest{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: `WorkflowId = "` + id + `" AND ExecutionStatus = "Running"`})
		if err == nil && len(resp.GetExecutions()) == 1 {
			return id
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("workflow %s never listed", id)
	return ""
}

// status waits for the workflow to leave Running (up to 10 s) and returns its status.
func status(t *testing.T, tc client.Client, id string) enumspb.WorkflowExecutionStatus {
	t.Helper()
	var st enumspb.WorkflowExecutionStatus
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			t.Fatal(err)
		}
		if st = d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return st
		}
	}
	return st
}

func TestPurgeWorkflowOnTheDevServer(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t)
	db.PhoneHashKey = hashKey
	tc := testenv.Temporal(t)
	const portal = int64(9101)
	const number = "+33612345641"
	for i := 0; i < 5; i++ {
		id := uuid.NewString()
		if err := db.SaveMessage(ctx, store.Message{ID: id, PortalID: portal, ObjectType: "contact", ObjectID: "7", Channel: "sms",
			Phone: number, Country: "FR", Status: "SMS_DELIVERED"}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := db.Suppress(ctx, portal, "sms", number, store.SourceStopReply, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, q := range []string{`UPDATE messages SET created_at = '2024-03-01T10:00:00Z', updated_at = '2024-03-01T10:00:00Z'`,
		`UPDATE suppressions SET created_at = '2024-03-01T10:00:00Z'`, `UPDATE suppression_events SET at = '2024-03-01T10:00:00Z'`} {
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	queue := runWorker(t, tc, &retention.Activities{Store: db, Retention: 365 * 24 * time.Hour, BatchSize: 2})
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "purge-" + testenv.RandomID(), TaskQueue: queue},
		retention.PurgeWorkflowName, retention.PurgeInput{})
	if err != nil {
		t.Fatal(err)
	}
	var res retention.PurgeResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Purged.Messages != 5 || res.Batches != 3 || res.Purged.HashedSuppressions != 1 {
		t.Errorf("purge result %+v, want 5 messages in 3 batches of 2 and one suppression hashed", res)
	}
	counts, err := db.DailyCounts(ctx, portal)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].Count != 5 || counts[0].Day.Format("2006-01-02") != "2024-03-01" || counts[0].Status != "SMS_DELIVERED" {
		t.Errorf("daily counts %+v, want 5 delivered on 2024-03-01", counts)
	}
	var left int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&left); err != nil || left != 0 {
		t.Errorf("messages left: %d, %v", left, err)
	}
	if off, _, err := db.Suppressed(ctx, portal, "sms", number); err != nil || !off {
		t.Errorf("the purged number is no longer suppressed: %v %v", off, err)
	}
}

func TestScheduleCreatedOnce(t *testing.T) {
	ctx := context.Background()
	tc := testenv.Temporal(t)
	for i := 0; i < 2; i++ { // a second worker starting finds it there
		if err := retention.EnsureSchedule(ctx, tc, "retention-schedule-test"); err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
	}
	h := tc.ScheduleClient().GetHandle(ctx, retention.ScheduleID("retention-schedule-test"))
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	d, err := h.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || action.Workflow != retention.PurgeWorkflowName || action.TaskQueue != "retention-schedule-test" {
		t.Fatalf("schedule action %+v", d.Schedule.Action)
	}
	if iv := d.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != 24*time.Hour {
		t.Errorf("schedule spec %+v, want every 24h", d.Schedule.Spec)
	}
	if len(d.Info.NextActionTimes) == 0 || time.Until(d.Info.NextActionTimes[0]) > 24*time.Hour {
		t.Errorf("next runs %v, want one within a day", d.Info.NextActionTimes)
	}
}

func TestEraseNumberCancelsItsWorkflowsAndRemovesItsRows(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t)
	db.PhoneHashKey = hashKey
	tc := testenv.Temporal(t)
	queue := runWorker(t, tc, &retention.Activities{Store: db})
	portal := int64(9200 + time.Now().UnixNano()%1000)
	const number, otherNumber = "+33612345651", "+33612345652"

	// A message stored in the log, one not stored yet (found by its SmsPhoneHash), another number's.
	stored := startHeld(t, tc, queue, portal, "")
	storedID := stored[len("sms-"):]
	if err := db.SaveMessage(ctx, store.Message{ID: storedID, PortalID: portal, ObjectType: "contact", ObjectID: "9", Phone: number,
		Status: "PENDING", WorkflowID: stored}); err != nil {
		t.Fatal(err)
	}
	unstored := startHeld(t, tc, queue, portal, number)
	other := startHeld(t, tc, queue, portal, otherNumber)
	if err := db.Suppress(ctx, portal, "sms", number, store.SourceStopReply, storedID); err != nil {
		t.Fatal(err)
	}

	e := &retention.Eraser{Store: db, Temporal: tc, Namespace: "default", PhoneHashKey: hashKey}
	done, err := e.EraseNumber(ctx, portal, number)
	if err != nil {
		t.Fatal(err)
	}
	if done.Messages != 2 || done.WorkflowsCancelled != 2 || done.HashedSuppressions != 1 {
		t.Errorf("erased %+v, want 2 messages, 2 workflows cancelled, 1 suppression hashed", done)
	}
	for _, id := range []string{stored, unstored} {
		if st := status(t, tc, id); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
			t.Errorf("workflow %s is %v, want cancelled", id, st)
		}
		if erased, _ := db.MessageErased(ctx, id[len("sms-"):]); !erased {
			t.Errorf("message of %s not marked erased", id)
		}
	}
	if d, err := tc.DescribeWorkflowExecution(ctx, other, ""); err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("another number's message was stopped: %v", err)
	}
	var clear int
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM messages WHERE phone = $1) + (SELECT count(*) FROM suppressions WHERE phone = $1)`,
		number).Scan(&clear); err != nil || clear != 0 {
		t.Errorf("rows holding the number in clear: %d, %v", clear, err)
	}
	if off, _, _ := db.Suppressed(ctx, portal, "sms", number); !off {
		t.Error("the opt-out did not survive the erasure")
	}
	_ = tc.CancelWorkflow(ctx, other, "")
}

func TestStopPortalCancelsItsRunningWorkflows(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t)
	tc := testenv.Temporal(t)
	queue := runWorker(t, tc, &retention.Activities{Store: db})
	portal := int64(9300 + time.Now().UnixNano()%1000)
	a := startHeld(t, tc, queue, portal, "+33612345661")
	b := startHeld(t, tc, queue, portal, "")
	other := startHeld(t, tc, queue, portal+5000, "+33612345662")

	n, err := retention.PortalStopper{Temporal: tc, Namespace: "default"}.StopPortal(ctx, portal)
	if err != nil || n != 2 {
		t.Fatalf("StopPortal = %d, %v; want 2 cancelled", n, err)
	}
	for _, id := range []string{a, b} {
		if st := status(t, tc, id); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
			t.Errorf("workflow %s is %v, want cancelled", id, st)
		}
	}
	if d, err := tc.DescribeWorkflowExecution(ctx, other, ""); err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("another portal's message was stopped: %v", err)
	}
	_ = tc.CancelWorkflow(ctx, other, "")

	// The store's hook runs the same stop when a token refresh finds the portal revoked.
	c := startHeld(t, tc, queue, portal, "")
	stopped := make(chan struct{})
	hook := retention.PortalStopper{Temporal: tc, Namespace: "default"}.OnDisconnect(slog.New(slog.DiscardHandler))
	db.OnDisconnect = func(ctx context.Context, id int64) { hook(ctx, id); close(stopped) }
	if err := db.SetPortalSettings(ctx, portal, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if err := db.DisconnectPortal(ctx, portal); err != nil {
		t.Fatal(err)
	}
	<-stopped
	if st := status(t, tc, c); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("after DisconnectPortal the workflow is %v, want cancelled", st)
	}
}

package workflows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/types/known/durationpb"

	"smsflow/activities"
	"smsflow/internal/testenv"
	"smsflow/store"
	"smsflow/workflows"
)

// startWorker runs the real workflows and activities on a task queue of the test's own.
func startWorker(t *testing.T, c client.Client, a *activities.Activities) string {
	t.Helper()
	queue := "test-" + testenv.RandomID()
	w := worker.New(c, queue, worker.Options{})
	workflows.Register(w, a)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return queue
}

func migratedStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// The foundation's end-to-end check: a workflow started on the real dev server runs its activity
// against the real PostgreSQL and is findable by its search attributes.
func TestSendSMSRunsOnDevServer(t *testing.T) {
	c := testenv.Temporal(t)
	db := migratedStore(t)
	queue := startWorker(t, c, &activities.Activities{Store: db})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	req := workflows.SMSRequest{
		MessageID: "5d0c3a54-7d4e-4f43-9b0e-3f1c2b6a7e11", CallbackID: "cb-1", PortalID: 62515,
		ObjectType: "contact", ObjectID: "901",
		Inputs: workflows.SMSInputs{Country: "FR", Message: "Bonjour", MessageType: "marketing", CampaignName: "welcome"},
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "sms-" + req.MessageID + "-" + testenv.RandomID(), TaskQueue: queue},
		workflows.SendSMSName, req)
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.SMSResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.MessageID != req.MessageID || res.Status != workflows.StatusPending {
		t.Fatalf("result = %+v", res)
	}
	m, err := db.GetMessage(ctx, req.MessageID)
	if err != nil {
		t.Fatalf("message not in the log: %v", err)
	}
	if m.Status != workflows.StatusPending || m.PortalID != 62515 || m.WorkflowID != run.GetID() {
		t.Fatalf("stored message = %+v", m)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	fields := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	for _, name := range []string{"SmsPortalId", "SmsRecordId", "SmsStatus", "SmsChannel"} {
		if _, ok := fields[name]; !ok {
			t.Errorf("search attribute %s not set (have %v)", name, keys(fields))
		}
	}
}

func TestCheckSearchAttributes(t *testing.T) {
	c := testenv.Temporal(t)
	ctx := context.Background()
	if err := workflows.CheckSearchAttributes(ctx, c, "default"); err != nil {
		t.Fatalf("the dev server started by devstack registers every attribute, yet: %v", err)
	}

	// A namespace made without them: the worker must refuse, naming each attribute and the fix.
	ns := "bare-" + testenv.RandomID()
	if _, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		err = workflows.CheckSearchAttributes(ctx, c, ns)
		if err != nil && strings.Contains(err.Error(), "lacks") {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "lacks") {
		t.Fatalf("CheckSearchAttributes on a bare namespace = %v, want it to list what is missing", err)
	}
	for name, typ := range workflows.SearchAttributes() {
		if !strings.Contains(err.Error(), "--name "+name+" --type "+typ) {
			t.Errorf("error does not say how to add %s: %v", name, err)
		}
	}
}

func TestSearchAttributeTypes(t *testing.T) {
	got := workflows.SearchAttributes()
	if len(got) != 8 || got["SmsWakeAt"] != "Datetime" || got["SmsStatus"] != "Keyword" {
		t.Fatalf("SearchAttributes() = %v", got)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

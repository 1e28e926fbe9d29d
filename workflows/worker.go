package workflows

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
)

// NewWorker makes the worker of the message workflows on taskQueue, after checking that the
// namespace has every search attribute they upsert. cmd/worker, the end-to-end harness and the
// benchmark all build their worker here.
func NewWorker(ctx context.Context, c client.Client, namespace, taskQueue string, opts worker.Options, a *activities.Activities) (worker.Worker, error) {
	if err := CheckSearchAttributes(ctx, c, namespace); err != nil {
		return nil, err
	}
	w := worker.New(c, taskQueue, opts)
	Register(w, a)
	return w, nil
}

// Register adds the workflows and activities to a worker.
func Register(w worker.Registry, a *activities.Activities) {
	w.RegisterWorkflowWithOptions(SendSMS, workflowOptions())
	w.RegisterWorkflowWithOptions(SendVoice, voiceWorkflowOptions())
	w.RegisterActivity(a)
}

func workflowOptions() workflow.RegisterOptions { return workflow.RegisterOptions{Name: SendSMSName} }

// CheckSearchAttributes fails, naming what is missing and how to add it, when the server lacks a
// custom search attribute the workflows upsert (an upsert would otherwise fail every workflow task).
func CheckSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of namespace %q: %w", namespace, err)
	}
	var missing []string
	for name, typ := range SearchAttributes() {
		got, ok := resp.GetCustomAttributes()[name]
		if !ok || !strings.EqualFold(got.String(), typ) && !strings.EqualFold(strings.TrimPrefix(got.String(), "INDEXED_VALUE_TYPE_"), typ) {
			missing = append(missing, name+"="+typ)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	var b strings.Builder
	fmt.Fprintf(&b, "namespace %q lacks the custom search attributes %s; add them with:", namespace, strings.Join(missing, ", "))
	for _, m := range missing {
		name, typ, _ := strings.Cut(m, "=")
		fmt.Fprintf(&b, "\n  temporal operator search-attribute create --namespace %s --name %s --type %s", namespace, name, typ)
	}
	return fmt.Errorf("%s", b.String())
}

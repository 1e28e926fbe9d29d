package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ScheduleID is the Temporal Schedule that starts the purge every day, one per task queue: the
// deployments sharing a namespace on other task queues have databases of their own to purge.
func ScheduleID(taskQueue string) string { return "smsflow-retention-purge-" + taskQueue }

// PurgeWorkflowID is the id of the purge runs the schedule starts (the schedule appends the time).
const PurgeWorkflowID = "retention-purge"

// Registry is where the purge workflow and its activities are registered (a worker).
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivity(a any)
}

// Register adds the purge workflow and its activities to a worker.
func Register(w Registry, a *Activities) {
	w.RegisterWorkflowWithOptions(PurgeWorkflow, workflow.RegisterOptions{Name: PurgeWorkflowName})
	w.RegisterActivity(a)
}

// EnsureSchedule creates the daily purge schedule on taskQueue unless it exists (every worker
// calls it at start; the first one creates it). A run still going when the next is due makes that
// one skip; a day missed while the cluster was down is caught up within a day.
func EnsureSchedule(ctx context.Context, c client.Client, taskQueue string) error {
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: ScheduleID(taskQueue),
		Spec: client.ScheduleSpec{
			Intervals: []client.ScheduleIntervalSpec{{Every: 24 * time.Hour, Offset: 3*time.Hour + 17*time.Minute}},
		},
		Action: &client.ScheduleWorkflowAction{
			ID:        PurgeWorkflowID,
			Workflow:  PurgeWorkflowName,
			Args:      []any{PurgeInput{}},
			TaskQueue: taskQueue,
		},
		Overlap:       enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: 24 * time.Hour,
		Note:          "purges message data older than MESSAGE_RETENTION (smsflow worker)",
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("retention: create schedule %s: %w", ScheduleID(taskQueue), err)
	}
	return nil
}

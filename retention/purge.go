// Package retention is what happens to message data when it must go: the daily purge of data
// older than MESSAGE_RETENTION (a Temporal Schedule starts PurgeWorkflow), the erasure of one
// number on request, and the stop of a portal's running messages when it uninstalls the app.
// What stays is counted per day, and opt-outs stay as a keyed hash of the number.
package retention

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"smsflow/store"
)

// PurgeWorkflowName is the workflow type the retention schedule starts.
const PurgeWorkflowName = "RetentionPurge"

// DefaultBatchSize is how many rows of each kind one purge activity removes in one transaction.
const DefaultBatchSize = 500

// batchesPerRun bounds a run's history: past it the workflow continues as new.
const batchesPerRun = 200

// Activities purge the store; Retention is MESSAGE_RETENTION.
type Activities struct {
	Store     *store.Store
	Retention time.Duration
	BatchSize int
	Log       *slog.Logger
	// Now is the clock the cutoff is taken from (tests move it); nil: time.Now.
	Now func() time.Time
}

// PurgeInput is the purge's input: nothing, the cutoff is taken when each batch runs.
type PurgeInput struct{}

// PurgeResult totals what a run removed.
type PurgeResult struct {
	Batches int          `json:"Batches"`
	Purged  store.Purged `json:"Purged"`
}

// PurgeBatch removes one batch of data older than the retention period.
func (a *Activities) PurgeBatch(ctx context.Context, _ PurgeInput) (store.Purged, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	size := a.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	p, err := a.Store.PurgeBefore(ctx, now().Add(-a.Retention), size)
	if err != nil {
		return store.Purged{}, err
	}
	if a.Log != nil && (p.Messages > 0 || p.HashedSuppressions > 0) {
		a.Log.Info("retention purge batch", "messages", p.Messages, "unrouted_events", p.UnroutedEvents,
			"hashed_suppressions", p.HashedSuppressions, "hashed_opt_changes", p.HashedOptChanges, "workflow_id", activity.GetInfo(ctx).WorkflowExecution.ID)
	}
	return p, nil
}

// PurgeWorkflow purges batch after batch until nothing older than the retention is left,
// continuing as new after batchesPerRun batches.
func PurgeWorkflow(ctx workflow.Context, in PurgeInput) (PurgeResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute},
	})
	var a *Activities
	var total PurgeResult
	for total.Batches < batchesPerRun {
		var p store.Purged
		if err := workflow.ExecuteActivity(ctx, a.PurgeBatch, in).Get(ctx, &p); err != nil {
			return total, err
		}
		total.Batches++
		total.Purged.Messages += p.Messages
		total.Purged.UnroutedEvents += p.UnroutedEvents
		total.Purged.ErasedIDs += p.ErasedIDs
		total.Purged.HashedSuppressions += p.HashedSuppressions
		total.Purged.HashedOptChanges += p.HashedOptChanges
		if !p.More {
			return total, nil
		}
	}
	return total, workflow.NewContinueAsNewError(ctx, PurgeWorkflowName, in)
}

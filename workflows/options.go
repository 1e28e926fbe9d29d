package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Activity options. Prepare, the pre-dispatch check and Publish are local activities: short, and
// recorded as one marker each, which keeps a delivered message's history small; their retries
// (HubSpot rate limits included) back off up to ten minutes. Dispatch is a regular activity: it
// may wait on a carrier and its attempts must be visible.
var (
	localOptions = workflow.LocalActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute},
	}
	dispatchOptions = workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 6 * time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute},
	}
)

// completeOptions drive the HubSpot action's completion, a regular activity visible as pending in
// the Web UI. The activity queues the completion and stays pending until the HubSpot outbox
// sender has made it in a batch and completes it; an attempt that times out (a backlog of
// completions draining, a sender stopped mid-pass) is retried within a minute and only hands over
// its task token, or returns at once when the completion was made meanwhile. HubSpot's rate
// limits set the wait before the next attempt (a DAILY one waits for the portal's reset, hence
// two days).
var completeOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: 48 * time.Hour,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// endingWithin bounds each step that ends a failed or cancelled lifecycle: a broken dependency
// must not hold the run open for a day after it already failed.
const endingWithin = time.Hour

// localOptions is the context of the status and check steps (local activities).
func (s *sms) localOptions(ctx workflow.Context) workflow.Context {
	o := localOptions
	if s.ending {
		o.ScheduleToCloseTimeout = endingWithin
	}
	return workflow.WithLocalActivityOptions(ctx, o)
}

// completeOptions is the context of the HubSpot action's completion.
func (s *sms) completeOptions(ctx workflow.Context) workflow.Context {
	o := completeOptions
	if s.ending {
		o.ScheduleToCloseTimeout = endingWithin
	}
	return workflow.WithActivityOptions(ctx, o)
}

// listenHistoryCap ends the listening period early once the history is this long: engagement
// after the action completed is counted in PostgreSQL, and no recipient can push a run towards
// Temporal's history limits. The API signals only the first click of each link and a few
// replies, so an ordinary message never comes near it.
const listenHistoryCap = 1000

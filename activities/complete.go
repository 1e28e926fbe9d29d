package activities

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"smsflow/hubspot"
	"smsflow/store"
)

// CompleteAction completes the blocked HubSpot workflow action with the message's outcome and
// records the outputs beside the message (a repeated execution of the action is answered with
// them). It is its own activity, started first when an outcome is reached.
//
// With CompleteInBatches it makes no HubSpot call: it queues the completion (once per callback id;
// a later attempt only hands over its task token) and stays pending, and the HubSpot outbox
// sender completes the due actions of a portal in batches of up to 100, ahead of the portal's
// other writes, then this activity. A rate limit only delays the batch; a disconnected portal
// cannot be completed (HubSpot expires the action after hs_expiration_duration); a permanent
// refusal is stored on the message and ends the step; 5xx that last past the sender's
// CompletionMaxAge fail it. Without CompleteInBatches (or outside an activity) it completes the
// action itself, with one call.
func (a *Activities) CompleteAction(ctx context.Context, in CompleteInput) error {
	if !a.CompleteInBatches || !activity.IsActivity(ctx) {
		if err := a.completeAction(ctx, in); err != nil {
			return a.keepPermanent(ctx, in.MessageID, "hubspot_complete:"+in.CallbackID, err)
		}
		return nil
	}
	outputs := completionOutputs(in)
	messageID := in.MessageID
	if messageID == "" {
		messageID = outputs["message_id"]
	}
	fate, err := a.Store.QueueCompletion(ctx, store.CompletionItem{CallbackID: in.CallbackID, PortalID: in.PortalID,
		MessageID: messageID, Outputs: outputs, TaskToken: activity.GetInfo(ctx).TaskToken})
	if err != nil {
		return err
	}
	switch {
	case fate.State == store.CompletionDone:
		return nil
	case fate.State == store.CompletionDead && fate.ErrorType == hubspot.ErrTypePermanent:
		return nil // the refusal is stored on the message
	case fate.State == store.CompletionDead:
		return temporal.NewNonRetryableApplicationError(fate.LastError, fate.ErrorType, nil)
	}
	return activity.ErrResultPending
}

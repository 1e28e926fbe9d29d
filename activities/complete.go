package activities

import (
	"context"
)

// CompleteAction completes the blocked HubSpot workflow action with the message's outcome and
// records the outputs beside the message (a repeated execution of the action is answered with
// them). It is its own activity, started first when an outcome is reached, so no other HubSpot
// write delays it. A rate limit comes back as a retry after HubSpot's wait (a DAILY one waits
// for the portal's reset); a disconnected portal cannot be completed (HubSpot expires the action
// after hs_expiration_duration); a permanent refusal is stored on the message and ends the step.
func (a *Activities) CompleteAction(ctx context.Context, in CompleteInput) error {
	if err := a.completeAction(ctx, in); err != nil {
		return a.keepPermanent(ctx, in.MessageID, "hubspot_complete:"+in.CallbackID, err)
	}
	return nil
}

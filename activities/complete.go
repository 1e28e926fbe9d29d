package activities

import (
	"context"
	"errors"

	"smsflow/hubspot"
)

// CompleteAction completes the blocked HubSpot workflow action with the message's outcome. It is
// its own activity, started first when an outcome is reached, so no other HubSpot write delays
// it. A rate limit comes back as a retry after HubSpot's wait (a DAILY one waits for the
// portal's reset); a disconnected portal cannot be completed (HubSpot expires the action after
// hs_expiration_duration); a permanent refusal is stored on the message and ends the step.
func (a *Activities) CompleteAction(ctx context.Context, in CompleteInput) error {
	outputs := in.Outputs
	if in.FailContinue {
		outputs = make(map[string]string, len(in.Outputs)+1)
		for k, v := range in.Outputs {
			outputs[k] = v
		}
		outputs[hubspot.OutputState] = hubspot.StateFailContinue
	}
	err := a.HubSpot.CompleteCallback(ctx, in.PortalID, in.CallbackID, outputs)
	if err == nil || errors.Is(err, hubspot.ErrPortalDisconnected) {
		return nil
	}
	return a.keepPermanent(ctx, in.MessageID, "hubspot_complete:"+in.CallbackID, err)
}

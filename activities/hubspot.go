package activities

import (
	"context"

	"smsflow/hubspot"
)

// HubSpotClient adapts the HubSpot API client to what the lifecycle needs, with errors as
// Temporal retry decisions (a disconnected portal stays hubspot.ErrPortalDisconnected in the
// chain: a business outcome, not a retry).
type HubSpotClient struct {
	C *hubspot.Client
}

func (h HubSpotClient) err(err error) error {
	return hubspot.ActivityError(err)
}

// ReadProperties reads the named properties of a record.
func (h HubSpotClient) ReadProperties(ctx context.Context, portalID int64, objectType, objectID string, names []string) (map[string]string, error) {
	v, err := h.C.GetProperties(ctx, portalID, objectType, objectID, names)
	return v, h.err(err)
}

// AssociatedIDs lists the records of toType associated with a record.
func (h HubSpotClient) AssociatedIDs(ctx context.Context, portalID int64, fromType, fromID, toType string) ([]string, error) {
	ids, err := h.C.Associations(ctx, portalID, fromType, fromID, toType)
	return ids, h.err(err)
}

// CompleteCallback completes a blocked workflow action.
func (h HubSpotClient) CompleteCallback(ctx context.Context, portalID int64, callbackID string, outputs map[string]string) error {
	return h.err(h.C.CompleteCallback(ctx, portalID, callbackID, outputs))
}

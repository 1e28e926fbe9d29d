package activities

import (
	"context"

	"smsflow/outcome"
)

// CancellationInput names the message whose workflow was cancelled.
type CancellationInput struct {
	PortalID  int64  `json:"PortalID"`
	MessageID string `json:"MessageID"`
}

// CancellationReason is why a message's workflow was cancelled, as its NOT_SENT outcome says it.
type CancellationReason struct {
	Code    outcome.Code `json:"Code"`
	Message string       `json:"Message"`
}

// Readable messages of the cancellation reasons.
const (
	ErasedMessage    = "the recipient's number was erased on request before the message went"
	CancelledMessage = "the message was cancelled before it went"
)

// CancellationReason tells why a message's workflow was cancelled: the portal disconnected the app
// (PORTAL_DISCONNECTED), the number was erased (ERASED), else an operator cancelled it (CANCELLED).
func (a *Activities) CancellationReason(ctx context.Context, in CancellationInput) (CancellationReason, error) {
	erased, err := a.Store.MessageErased(ctx, in.MessageID)
	if err != nil {
		return CancellationReason{}, err
	}
	if erased {
		return CancellationReason{Code: outcome.Erased, Message: ErasedMessage}, nil
	}
	settings, err := a.Store.PortalSettingsOf(ctx, in.PortalID)
	if err != nil {
		return CancellationReason{}, err
	}
	if !settings.Connected {
		return CancellationReason{Code: outcome.PortalDisconnected, Message: outcome.PortalDisconnectedMessage}, nil
	}
	return CancellationReason{Code: outcome.Cancelled, Message: CancelledMessage}, nil
}

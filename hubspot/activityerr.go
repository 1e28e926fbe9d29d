package hubspot

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Application error types ActivityError gives, for workflows to branch on (ApplicationError.Type()).
const (
	ErrTypeRateLimited        = "HubSpotRateLimited"
	ErrTypeTemporary          = "HubSpotTemporary"
	ErrTypeUnauthorized       = "HubSpotUnauthorized"
	ErrTypePermanent          = "HubSpotPermanent"
	ErrTypePortalDisconnected = "PortalDisconnected"
	ErrTypeNoPhone            = "NoPhone"
)

// UnauthorizedRetryDelay is the wait after a 401 that survived a token refresh: HubSpot says a 401
// is not a reliable signal, so it is retried, slowly.
const UnauthorizedRetryDelay = time.Minute

// ActivityError turns a client error into the retry decision an activity returns to Temporal:
// rate limits are retried after their wait (DAILY: the portal's next day), temporary faults and
// unexplained 401s with the activity's retry policy, 4xx and a disconnected portal never.
// Context cancellation and unknown errors are returned as they are.
func ActivityError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var (
		rl   *RateLimitedError
		tmp  *TemporaryError
		un   *UnauthorizedError
		perm *PermanentError
		be   *BatchError
	)
	switch {
	case errors.Is(err, ErrPortalDisconnected):
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypePortalDisconnected, temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err})
	case errors.Is(err, ErrNoPhone):
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeNoPhone, temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err})
	case errors.As(err, &rl):
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeRateLimited, temporal.ApplicationErrorOptions{NextRetryDelay: rl.RetryAfter, Cause: err})
	case errors.As(err, &tmp), errors.Is(err, context.DeadlineExceeded):
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeTemporary, temporal.ApplicationErrorOptions{Cause: err})
	case errors.As(err, &un):
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeUnauthorized, temporal.ApplicationErrorOptions{NextRetryDelay: UnauthorizedRetryDelay, Cause: err})
	case errors.As(err, &perm), errors.As(err, &be):
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypePermanent, temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err})
	}
	return err
}

package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/outcome"
)

// holdUntilAllowed sleeps durably until wake (the country's window, send_at), then
// checks again right before dispatch what may have changed meanwhile — a STOP, consent, the
// portal's connection, the quotas. A quota that defers sends it back to sleep. It reports false
// when the message ended NOT_SENT. From versionCompact the dispatch activity makes those checks
// itself, right before the carrier call.
func (s *sms) holdUntilAllowed(ctx workflow.Context, wake time.Time, reason string) (bool, error) {
	in := s.req.Inputs
	for {
		if err := s.sleepUntil(ctx, wake, reason); err != nil {
			return false, err
		}
		if s.version >= versionCompact {
			return true, nil // the dispatch activity checks, right before the carrier call
		}
		var check activities.DispatchCheck
		if err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localOptions), s.a.CheckBeforeDispatch, activities.DispatchCheckInput{
			MessageID: s.req.MessageID, PortalID: s.req.PortalID, Channel: string(outcome.SMS), Phone: s.recipient.Phone,
			Country: s.country(), MessageType: in.MessageType, ObjectType: s.recipient.ObjectType, ObjectID: s.recipient.ObjectID,
			Sender: s.sender(), SendingUser: in.SendingUser, Now: workflow.Now(ctx), Timezones: s.timezones(),
		}).Get(ctx, &check); err != nil {
			return false, err
		}
		if check.ErrorCode != "" {
			return false, s.notSent(ctx, check.ErrorCode, check.ErrorMessage)
		}
		if check.DeferUntil == nil {
			return true, nil
		}
		wake, reason = *check.DeferUntil, check.DeferReason
	}
}

// sleepUntil holds the message on a durable timer, visible in the Web UI (SmsWakeAt) and the
// state query with the reason it waits.
func (s *sms) sleepUntil(ctx workflow.Context, wake time.Time, reason string) error {
	d := wake.Sub(workflow.Now(ctx))
	if d <= 0 {
		return nil
	}
	s.state.WakeAt, s.state.HeldReason = &wake, reason
	if err := s.upsert(ctx, WakeAtKey.ValueSet(wake)); err != nil {
		return err
	}
	if err := workflow.NewTimer(ctx, d).Get(ctx, nil); err != nil {
		return err
	}
	s.state.WakeAt, s.state.HeldReason = nil, ""
	if s.version >= versionCompact {
		s.unsetWake = true // with the next status
		return nil
	}
	return s.upsert(ctx, WakeAtKey.ValueUnset())
}

// timezones are the number's time zones for the checks that need them (a quota defer waits for
// the window in the number's zone); none in runs of the first version, which did not pass them.
func (s *sms) timezones() []string {
	if s.version < versionGuarantees {
		return nil
	}
	return s.recipient.Timezones
}

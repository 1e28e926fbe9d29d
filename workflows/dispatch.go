package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/outcome"
)

// heldBack is a dispatch the carrier never saw because the country's window closed before the
// call: the message goes back to the hold until then.
type heldBack struct {
	until  time.Time
	reason string
}

// dispatch hands the message to a carrier and publishes SENT. Retries exhausted (a carrier down
// for hours) or a carrier's refusal end it NOT_SENT; an uncertain send counts as sent, flagged,
// since a report by our reference can still confirm it. The dispatch activity checks the window
// right before each carrier call: a closed one returns the message to the hold (held not nil).
// It reports false when the message ended.
func (s *sms) dispatch(ctx workflow.Context) (held *heldBack, ok bool, err error) {
	in := s.req.Inputs
	din := activities.DispatchInput{
		MessageID: s.req.MessageID, PortalID: s.req.PortalID, From: s.sender(), To: s.recipient.Phone,
		Text: s.rendered.Text, Segments: s.rendered.Segments, Encoding: s.rendered.Encoding,
	}
	if s.version >= versionGuarantees {
		din.Channel, din.Country, din.MessageType = string(outcome.SMS), s.country(), in.MessageType
		din.Timezones = s.recipient.Timezones
	}
	if s.version >= versionCompact {
		din.Check = &activities.DispatchCheckInput{
			MessageID: s.req.MessageID, PortalID: s.req.PortalID, Channel: string(outcome.SMS), Phone: s.recipient.Phone,
			Country: s.country(), MessageType: in.MessageType, ObjectType: s.recipient.ObjectType, ObjectID: s.recipient.ObjectID,
			Sender: s.sender(), SendingUser: in.SendingUser, Timezones: s.recipient.Timezones,
		}
		ev := s.event(outcome.SMSSent, workflow.Now(ctx), workflow.GetInfo(ctx).WorkflowExecution.ID)
		din.Sent = &ev
	}
	var sent activities.DispatchResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, dispatchOptions), s.a.Dispatch, din).Get(ctx, &sent); err != nil {
		return nil, false, s.notSent(ctx, outcome.CarrierUnavailable, "the carrier could not be reached: "+rootMessage(err))
	}
	if sent.DeferUntil != nil && s.version >= versionGuarantees {
		return &heldBack{until: *sent.DeferUntil, reason: sent.DeferReason}, true, nil
	}
	if sent.Refused {
		return nil, false, s.notSent(ctx, sent.ErrorCode, sent.ErrorMessage)
	}
	s.state.Carrier, s.state.CarrierMessageID = sent.Carrier, sent.CarrierMessageID
	if sent.ErrorCode != "" && !sent.Uncertain {
		return nil, false, s.notSentBy(ctx, sent)
	}
	if sent.Uncertain {
		s.state.ErrorCode, s.state.ErrorMessage = outcome.SendUncertain, sent.ErrorMessage
	}
	if sent.Published {
		return nil, true, s.published(ctx, outcome.SMSSent)
	}
	return nil, true, s.apply(ctx, outcome.SMSSent, nil, nil)
}

// rootMessage is the innermost error's message: the carrier's own words, not Temporal's wrapping.
func rootMessage(err error) string {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return strings.TrimSpace(err.Error())
		}
		err = u.Unwrap()
	}
}

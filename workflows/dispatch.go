package workflows

import (
	"strings"

	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/outcome"
)

// dispatch hands the message to a carrier and publishes SENT. Retries exhausted (a carrier down
// for hours) or a carrier's refusal end it NOT_SENT; an uncertain send counts as sent, flagged,
// since a report by our reference can still confirm it. It reports false when the message ended.
func (s *sms) dispatch(ctx workflow.Context) (bool, error) {
	in := s.req.Inputs
	var sent activities.DispatchResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, dispatchOptions), s.a.Dispatch, activities.DispatchInput{
		MessageID: s.req.MessageID, PortalID: s.req.PortalID, From: in.Sender, To: s.recipient.Phone,
		Text: s.rendered.Text, Segments: s.rendered.Segments, Encoding: s.rendered.Encoding,
	}).Get(ctx, &sent); err != nil {
		return false, s.notSent(ctx, outcome.CarrierUnavailable, "the carrier could not be reached: "+rootMessage(err))
	}
	s.state.Carrier, s.state.CarrierMessageID = sent.Carrier, sent.CarrierMessageID
	if sent.ErrorCode != "" && !sent.Uncertain {
		return false, s.notSentBy(ctx, sent)
	}
	if sent.Uncertain {
		s.state.ErrorCode, s.state.ErrorMessage = outcome.SendUncertain, sent.ErrorMessage
	}
	return true, s.apply(ctx, outcome.SMSSent, nil, nil)
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

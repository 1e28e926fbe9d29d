package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/outcome"
)

// notSent ends the message before any carrier saw it.
func (s *sms) notSent(ctx workflow.Context, code outcome.Code, message string) error {
	s.state.ErrorCode, s.state.ErrorMessage = code, message
	ev := s.event(outcome.SMSNotSent, workflow.Now(ctx), "")
	ev.OptedOut = code == outcome.OptedOut
	return s.publishEvent(ctx, ev, nil, true)
}

// notSentBy ends the message a carrier refused; the carrier's verdict on the number (opted out
// with it, not assigned) is carried to the record.
func (s *sms) notSentBy(ctx workflow.Context, r activities.DispatchResult) error {
	s.state.ErrorCode, s.state.ErrorMessage = r.ErrorCode, r.ErrorMessage
	ev := s.event(outcome.SMSNotSent, workflow.Now(ctx), "")
	ev.Detail, ev.OptedOut, ev.NumberInvalid = map[string]string{"carrier": r.Carrier}, r.OptedOut, r.NumberInvalid
	var opt *activities.OptOutInput
	if r.OptedOut {
		opt = s.optOutInput("carrier_opt_out", false)
	}
	return s.publishEvent(ctx, ev, opt, true)
}

// completesWith says whether applying status meets the action's wait_for, so the completion
// rides in the same Publish.
func (s *sms) completesWith(status outcome.Status) bool {
	return !s.state.ActionCompleted && waitMet(s.req.Inputs.WaitFor, status, s.state.Clicks, s.state.Replies)
}

// apply publishes a status change with its details, completing the action when the status
// meets its wait_for.
func (s *sms) apply(ctx workflow.Context, status outcome.Status, detail map[string]string, opt *activities.OptOutInput) error {
	ev := s.event(status, workflow.Now(ctx), "")
	ev.Detail = detail
	return s.publishEvent(ctx, ev, opt, s.completesWith(status))
}

// event is the StatusEvent of the message as it stands, with the given status.
func (s *sms) event(status outcome.Status, at time.Time, workflowID string) activities.StatusEvent {
	in := s.req.Inputs
	ev := activities.StatusEvent{
		MessageID: s.req.MessageID, PortalID: s.req.PortalID, ObjectType: s.req.ObjectType, ObjectID: s.req.ObjectID,
		Channel: string(outcome.SMS), Phone: s.recipient.Phone, Country: s.recipient.Region, Sender: s.sender(), SendingUser: in.SendingUser,
		Campaign: in.CampaignName, MessageType: in.MessageType, Text: s.rendered.Text, Encoding: s.rendered.Encoding,
		Segments: s.rendered.Segments, Characters: s.rendered.Characters, Status: status,
		ErrorCode: s.state.ErrorCode, ErrorMessage: s.state.ErrorMessage,
		Carrier: s.state.Carrier, CarrierMessageID: s.state.CarrierMessageID, CallbackID: s.req.CallbackID,
		WorkflowID: workflowID, At: at, TargetType: s.recipient.ObjectType, TargetID: s.recipient.ObjectID,
	}
	if ev.Text == "" {
		ev.Text = in.Message
	}
	if !s.rendered.SendAt.IsZero() {
		t := s.rendered.SendAt
		ev.SendAt = &t
	}
	return ev
}

// publishEvent applies a status: state, search attribute, then one Publish with the message log,
// the opt-out change, HubSpot and (when complete) the action's completion.
func (s *sms) publishEvent(ctx workflow.Context, ev activities.StatusEvent, opt *activities.OptOutInput, complete bool) error {
	s.state.Status = ev.Status
	s.state.History = append(s.state.History, StatusChange{Status: ev.Status, At: ev.At})
	if err := s.upsert(ctx, StatusKey.ValueSet(string(ev.Status))); err != nil {
		return err
	}
	ev.WorkflowID = workflow.GetInfo(ctx).WorkflowExecution.ID
	ev.ErrorCode, ev.ErrorMessage = s.state.ErrorCode, s.state.ErrorMessage
	return s.publishSteps(ctx, activities.PublishInput{Event: &ev, OptOut: opt}, complete)
}

// published applies a status an activity already published (the dispatch's SENT): state, search
// attribute and, when it meets the action's wait_for, the completion.
func (s *sms) published(ctx workflow.Context, status outcome.Status) error {
	s.state.Status = status
	s.state.History = append(s.state.History, StatusChange{Status: status, At: workflow.Now(ctx)})
	if err := s.upsert(ctx, StatusKey.ValueSet(string(status))); err != nil {
		return err
	}
	return s.publishSteps(ctx, activities.PublishInput{}, s.completesWith(status))
}

// publishSteps runs the Publish of in (when it has an event) and, when complete, the action's
// completion.
func (s *sms) publishSteps(ctx workflow.Context, in activities.PublishInput, complete bool) error {
	if s.version < versionGuarantees {
		if complete {
			in.Complete = s.completion()
		}
		return workflow.ExecuteLocalActivity(s.localOptions(ctx), s.a.Publish, in).Get(ctx, nil)
	}
	// The completion starts first and on its own: HubSpot's workflow goes on as soon as the
	// outcome is known, whatever else HubSpot is slow to take.
	var completed workflow.Future
	if c := s.completionIf(complete); c != nil {
		completed = workflow.ExecuteActivity(s.completeOptions(ctx), s.a.CompleteAction, *c)
	}
	var err error
	if in.Event != nil || in.OptOut != nil {
		err = workflow.ExecuteLocalActivity(s.localOptions(ctx), s.a.Publish, in).Get(ctx, nil)
	}
	if completed != nil {
		if cerr := completed.Get(ctx, nil); cerr != nil {
			s.state.ActionCompleted = false // not done: the failure's cleanup tries again
			err = errors.Join(cerr, err)
		}
	}
	return err
}

// completionIf is the completion to make when complete is true.
func (s *sms) completionIf(complete bool) *activities.CompleteInput {
	if !complete {
		return nil
	}
	return s.completion()
}

// completeNow completes the HubSpot action on its own (wait_hours ran out, or a wait met earlier).
func (s *sms) completeNow(ctx workflow.Context) error {
	c := s.completion()
	if c == nil {
		return nil
	}
	if s.version >= versionGuarantees {
		err := workflow.ExecuteActivity(s.completeOptions(ctx), s.a.CompleteAction, *c).Get(ctx, nil)
		if err != nil {
			s.state.ActionCompleted = false
		}
		return err
	}
	return workflow.ExecuteLocalActivity(s.localOptions(ctx), s.a.Publish,
		activities.PublishInput{Complete: c}).Get(ctx, nil)
}

// completion marks the action completed and returns the call to make, nil when there is none.
func (s *sms) completion() *activities.CompleteInput {
	if s.state.ActionCompleted {
		return nil
	}
	s.state.ActionCompleted = true
	if s.req.CallbackID == "" {
		return nil
	}
	c := &activities.CompleteInput{PortalID: s.req.PortalID, CallbackID: s.req.CallbackID, Outputs: s.result().Outputs()}
	if s.version >= versionGuarantees {
		c.MessageID = s.req.MessageID
		c.FailContinue = s.state.Status == outcome.SMSNotSent
	}
	return c
}

// result is the message's outcome as it stands.
func (s *sms) result() SMSResult {
	return SMSResult{
		Status: s.state.Status, MessageID: s.req.MessageID, CampaignName: s.req.Inputs.CampaignName,
		Segments: s.state.Segments, Encoding: s.state.Encoding, ErrorCode: s.state.ErrorCode, ErrorMessage: s.state.ErrorMessage,
	}
}

// endAfterFailure ends a lifecycle that failed (a step out of retries) or was cancelled without
// leaving anything behind: a message that never left is published NOT_SENT with a code, and the
// HubSpot action is completed with the outcome, on a context the cancellation does not reach.
// The workflow still ends failed or cancelled, so operators see what happened.
func (s *sms) endAfterFailure(ctx workflow.Context, cause error) (SMSResult, error) {
	code, message := outcome.LifecycleFailed, "the message's lifecycle failed: "+rootMessage(cause)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	s.ending = true
	if temporal.IsCanceledError(cause) {
		// Who cancelled says why: the portal disconnected the app, the number was erased, or an
		// operator.
		code, message = outcome.Cancelled, "the message was cancelled before it went"
		var why activities.CancellationReason
		if err := workflow.ExecuteLocalActivity(s.localOptions(dctx), s.a.CancellationReason,
			activities.CancellationInput{PortalID: s.req.PortalID, MessageID: s.req.MessageID}).Get(dctx, &why); err == nil && why.Code != "" {
			code, message = why.Code, why.Message
		}
	}
	var err error
	if s.state.Status == outcome.Pending {
		err = s.notSent(dctx, code, message)
	} else if !s.state.ActionCompleted {
		err = s.completeNow(dctx) // the message went: its status stands, the action learns it
	}
	if err != nil {
		workflow.GetLogger(ctx).Error("cleanup after a failed lifecycle failed too", "message_id", s.req.MessageID, "error", err)
	}
	return s.result(), cause
}

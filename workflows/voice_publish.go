package workflows

import (
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/outcome"
	"smsflow/voice"
)

// ChildSMSMessageID is the message id of the SMS that key of call callID sends: stable, so a
// replayed or retried call starts the same SMS.
func ChildSMSMessageID(callID, key string) string {
	return uuid.NewSHA1(messageNamespace, []byte("call/"+callID+"/key/"+key)).String()
}

// notPlaced ends the call before any carrier saw it.
func (c *call) notPlaced(ctx workflow.Context, code outcome.Code, message string) error {
	c.state.ErrorCode, c.state.ErrorMessage = code, message
	ev := c.event(outcome.VoiceNotSent, workflow.Now(ctx), "")
	ev.OptedOut = code == outcome.OptedOut
	return c.publishEvent(ctx, ev, nil, true)
}

// completesWith says whether applying status meets the action's wait_for, so the completion
// rides in the same step: a failed call, or any status when the action waits for nothing. An
// answered call completes once it ended (followCall).
func (c *call) completesWith(status outcome.Status) bool {
	return !c.state.ActionCompleted && (status.Failed() || c.req.Inputs.WaitFor == WaitNone)
}

// apply publishes a status change with its details.
func (c *call) apply(ctx workflow.Context, status outcome.Status, detail map[string]string, opt *activities.OptOutInput) error {
	ev := c.event(status, workflow.Now(ctx), "")
	ev.Detail = detail
	return c.publishEvent(ctx, ev, opt, c.completesWith(status))
}

// event is the StatusEvent of the call as it stands, with the given status.
func (c *call) event(status outcome.Status, at time.Time, workflowID string) activities.StatusEvent {
	in := c.req.Inputs
	p := c.prepared
	ev := activities.StatusEvent{
		MessageID: c.req.MessageID, PortalID: c.req.PortalID, ObjectType: c.req.ObjectType, ObjectID: c.req.ObjectID,
		Channel: string(c.req.channel()), Phone: p.Recipient.Phone, Country: p.Recipient.Region, Sender: p.Caller,
		Campaign: in.CampaignName, MessageType: in.MessageType, Text: spokenText(p.Script.Opening.Text, p.Script.Opening.AudioURL),
		Status: status, ErrorCode: c.state.ErrorCode, ErrorMessage: c.state.ErrorMessage,
		Carrier: c.state.Carrier, CarrierMessageID: c.state.CarrierCallID, CallbackID: c.req.CallbackID,
		WorkflowID: workflowID, At: at, TargetType: p.Recipient.ObjectType, TargetID: p.Recipient.ObjectID,
	}
	if ev.Sender == "" {
		ev.Sender = in.CallerID
	}
	if ev.Text == "" {
		ev.Text = spokenText(in.Speech.Text, in.Speech.AudioURL)
	}
	if p.Held {
		t := p.CallAt
		ev.SendAt = &t
	}
	return ev
}

// spokenText is what a speech says, for the message log and the timeline.
func spokenText(text, audioURL string) string {
	if audioURL != "" {
		return "audio: " + audioURL
	}
	return text
}

// publishEvent applies a status: state, search attribute, then the completion (its own activity,
// started first) and one Publish with the message log, the opt-out change and HubSpot.
func (c *call) publishEvent(ctx workflow.Context, ev activities.StatusEvent, opt *activities.OptOutInput, complete bool) error {
	c.state.Status = ev.Status
	c.state.History = append(c.state.History, StatusChange{Status: ev.Status, At: ev.At})
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(string(ev.Status))); err != nil {
		return err
	}
	ev.WorkflowID = workflow.GetInfo(ctx).WorkflowExecution.ID
	ev.ErrorCode, ev.ErrorMessage = c.state.ErrorCode, c.state.ErrorMessage
	var completed workflow.Future
	if complete {
		if in := c.completion(); in != nil {
			completed = workflow.ExecuteActivity(c.completeOptions(ctx), c.a.CompleteAction, *in)
		}
	}
	err := workflow.ExecuteLocalActivity(c.localOptions(ctx), c.a.Publish, activities.PublishInput{Event: &ev, OptOut: opt}).Get(ctx, nil)
	if completed != nil {
		if cerr := completed.Get(ctx, nil); cerr != nil {
			c.state.ActionCompleted = false // not done: the failure's cleanup tries again
			err = errors.Join(cerr, err)
		}
	}
	return err
}

// completeNow completes the HubSpot action on its own (the call ended, or wait_hours ran out).
func (c *call) completeNow(ctx workflow.Context) error {
	in := c.completion()
	if in == nil {
		return nil
	}
	if err := workflow.ExecuteActivity(c.completeOptions(ctx), c.a.CompleteAction, *in).Get(ctx, nil); err != nil {
		c.state.ActionCompleted = false
		return err
	}
	return nil
}

// completion marks the action completed and returns the call to make, nil when there is none.
func (c *call) completion() *activities.CompleteInput {
	if c.state.ActionCompleted {
		return nil
	}
	c.state.ActionCompleted = true
	if c.req.CallbackID == "" {
		return nil
	}
	return &activities.CompleteInput{PortalID: c.req.PortalID, CallbackID: c.req.CallbackID, Outputs: c.result().Outputs(),
		MessageID: c.req.MessageID, FailContinue: c.state.Status.NotSent()}
}

// result is the call's outcome as it stands.
func (c *call) result() VoiceResult {
	r := VoiceResult{Status: c.state.Status, MessageID: c.req.MessageID, CampaignName: c.req.Inputs.CampaignName,
		AnsweredBy: c.state.AnsweredBy, DurationSeconds: c.state.DurationSeconds, Units: c.state.Units,
		ErrorCode: c.state.ErrorCode, ErrorMessage: c.state.ErrorMessage}
	for _, k := range c.state.Keys {
		if k.Action != "" && k.Action != voice.ActionWrongKey {
			r.Key, r.KeyAction = k.Key, k.Action
		}
	}
	if n := len(c.state.SMS); n > 0 {
		r.SMSMessageID, r.SMSStatus = c.state.SMS[n-1].MessageID, c.state.SMS[n-1].Status
	}
	return r
}

// localOptions is the context of the status and check steps (local activities).
func (c *call) localOptions(ctx workflow.Context) workflow.Context {
	o := localOptions
	if c.ending {
		o.ScheduleToCloseTimeout = endingWithin
	}
	return workflow.WithLocalActivityOptions(ctx, o)
}

// completeOptions is the context of the HubSpot action's completion.
func (c *call) completeOptions(ctx workflow.Context) workflow.Context {
	o := completeOptions
	if c.ending {
		o.ScheduleToCloseTimeout = endingWithin
	}
	return workflow.WithActivityOptions(ctx, o)
}

// endAfterFailure ends a call whose lifecycle failed (a step out of retries) or was cancelled:
// a call never placed is published NOT_SENT with a code, and the HubSpot action is completed
// with the outcome, on a context the cancellation does not reach. The workflow still ends failed
// or cancelled, so operators see what happened.
func (c *call) endAfterFailure(ctx workflow.Context, cause error) (VoiceResult, error) {
	code, message := outcome.LifecycleFailed, "the call's lifecycle failed: "+rootMessage(cause)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	c.ending = true
	if temporal.IsCanceledError(cause) {
		code, message = outcome.Cancelled, "the call was cancelled before it was placed"
		var why activities.CancellationReason
		if err := workflow.ExecuteLocalActivity(c.localOptions(dctx), c.a.CancellationReason,
			activities.CancellationInput{PortalID: c.req.PortalID, MessageID: c.req.MessageID}).Get(dctx, &why); err == nil && why.Code != "" {
			code, message = why.Code, why.Message
		}
	}
	var err error
	if c.state.Status == outcome.Pending {
		err = c.notPlaced(dctx, code, message)
	} else if !c.state.ActionCompleted {
		err = c.completeNow(dctx) // the call was placed: its status stands, the action learns it
	}
	if err != nil {
		workflow.GetLogger(ctx).Error("cleanup after a failed call lifecycle failed too", "message_id", c.req.MessageID,
			"portal_id", strconv.FormatInt(c.req.PortalID, 10), "error", err)
	}
	return c.result(), cause
}

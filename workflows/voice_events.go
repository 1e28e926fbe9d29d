package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/outcome"
	"smsflow/voice"
)

// maxCallEvents bounds the call events a call applies: a call has a handful of statuses and at
// most a key per menu offered, so this is never reached by a real call, and no carrier (or
// recipient) can grow a call's history without bound.
const maxCallEvents = 40

// maxCallGrace bounds the wait, after an answered call ended, for its events that raced the end
// (a key stored after the final status).
const maxCallGrace = time.Minute

// childSettleTries bounds the reads of the key's SMS status before the action completes: the SMS
// lives on in its own workflow, the call reports where it stood.
const childSettleTries = 5

// followCall applies the call's events until the carrier reports its end (or the end wait runs
// out), completes the HubSpot action (at once when the action waits for nothing, or when
// wait_hours run out), and takes the events that raced the end.
func (c *call) followCall(ctx workflow.Context) error {
	waitLimit := time.Duration(c.req.Inputs.WaitHours) * time.Hour
	if waitLimit <= 0 {
		waitLimit = c.settings.DefaultWait
	}
	var (
		err               error
		waitOver, endOver bool
	)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, voice.SignalCallEvent), func(ch workflow.ReceiveChannel, _ bool) {
		var e voice.CallEvent
		ch.Receive(ctx, &e)
		if err == nil {
			err = c.onEvent(ctx, e)
		}
	})
	sel.AddFuture(workflow.NewTimer(ctx, waitLimit), func(workflow.Future) { waitOver = true })
	sel.AddFuture(workflow.NewTimer(ctx, c.settings.DeliveryTimeout), func(workflow.Future) { endOver = true })
	for !c.state.Ended && !endOver {
		if err == nil && waitOver && !c.state.ActionCompleted {
			err = c.completeNow(ctx) // wait_hours ran out: the action goes on with what is known
		}
		if err != nil {
			return err
		}
		sel.Select(ctx)
	}
	if err != nil {
		return err
	}
	if !c.state.Ended && c.state.ErrorCode == "" {
		c.state.ErrorCode = outcome.CallUnconfirmed
		c.state.ErrorMessage = outcome.CallUnconfirmed.Message() + " Last known status " + string(c.state.Status) + "."
	}
	if err := c.settleChildren(ctx); err != nil {
		return err
	}
	if err := c.completeNow(ctx); err != nil {
		return err
	}
	if c.state.Status.Rank() < outcome.VoiceDelivered.Rank() || c.state.Status == outcome.VoiceNotDelivered {
		return nil // never answered: no key can come
	}
	graceOver := false
	sel.AddFuture(workflow.NewTimer(ctx, min(c.settings.ListenAfter, maxCallGrace)), func(workflow.Future) { graceOver = true })
	for !graceOver && err == nil {
		sel.Select(ctx)
	}
	for err == nil && sel.HasPending() {
		sel.Select(ctx)
	}
	return err
}

// onEvent applies one call event once.
func (c *call) onEvent(ctx workflow.Context, e voice.CallEvent) error {
	if e.EventID != "" {
		if c.seen[e.EventID] {
			return nil
		}
		c.seen[e.EventID] = true
	}
	if c.events >= maxCallEvents {
		workflow.GetLogger(ctx).Warn("call event ignored past the cap", "message_id", c.req.MessageID, "kind", e.Kind)
		return nil
	}
	c.events++
	switch e.Kind {
	case voice.EventStatus:
		return c.onStatus(ctx, e)
	case voice.EventKey:
		return c.onKey(ctx, e)
	}
	return nil
}

// onStatus applies the carrier's status of the call: answered makes it DELIVERED, busy, no
// answer, failed or cancelled NOT_DELIVERED with a code; never backwards.
func (c *call) onStatus(ctx workflow.Context, e voice.CallEvent) error {
	if c.state.Ended {
		return nil // a late or out-of-order status of a call that ended
	}
	c.state.CallStatus = e.Status
	if e.AnsweredBy != "" {
		c.state.AnsweredBy = e.AnsweredBy
	}
	switch e.Status {
	case voice.StatusAnswered:
		return c.answered(ctx, e)
	case voice.StatusCompleted:
		c.state.Ended = true
		c.state.DurationSeconds, c.state.Units = e.DurationSeconds, units(e.DurationSeconds, true)
		return c.answered(ctx, e) // when the answered event never came
	case voice.StatusBusy, voice.StatusNoAnswer, voice.StatusFailed, voice.StatusCanceled:
		c.state.Ended = true
		if c.state.Status.Rank() >= outcome.VoiceDelivered.Rank() {
			return nil // answered, then cut: the call was delivered
		}
		code := unansweredCode(e.Status)
		c.state.ErrorCode, c.state.ErrorMessage = code, code.Message()
		if e.Code != "" {
			c.state.ErrorMessage += " Carrier code " + e.Code + "."
		}
		return c.apply(ctx, outcome.VoiceNotDelivered,
			map[string]string{"call_status": e.Status, "carrier_error_code": e.Code, "event_id": e.EventID}, nil)
	}
	return nil // initiated, ringing: nothing to publish
}

// unansweredCode is the error code of a call that ended unanswered.
func unansweredCode(status string) outcome.Code {
	switch status {
	case voice.StatusBusy:
		return outcome.CallBusy
	case voice.StatusNoAnswer:
		return outcome.CallNoAnswer
	case voice.StatusCanceled:
		return outcome.CallCanceled
	}
	return outcome.CallFailed
}

// answered publishes DELIVERED once, saying who answered.
func (c *call) answered(ctx workflow.Context, e voice.CallEvent) error {
	if c.state.Status.Rank() >= outcome.VoiceDelivered.Rank() {
		return nil
	}
	if c.state.AnsweredBy == "" {
		c.state.AnsweredBy = voice.AnsweredByUnknown
	}
	if c.state.ErrorCode == outcome.SendUncertain {
		c.state.ErrorCode, c.state.ErrorMessage = "", "" // the carrier's events confirm the call
	}
	return c.apply(ctx, outcome.VoiceDelivered, map[string]string{"answered_by": c.state.AnsweredBy, "event_id": e.EventID}, nil)
}

// onKey applies a key pressed: the call was answered; a valid key publishes KEY_PRESSED with its
// action, then does what the call cannot do itself (send the key's SMS, unsubscribe). The script
// already answered the call (a wrong key's prompt, a transfer, a message played).
func (c *call) onKey(ctx workflow.Context, e voice.CallEvent) error {
	k, ok := c.prepared.Script.Action(e.Key)
	action := k.Action
	if !ok {
		action = voice.ActionWrongKey
	}
	c.state.Keys = append(c.state.Keys, KeyPressed{Key: e.Key, Action: action, At: workflow.Now(ctx)})
	if err := c.answered(ctx, e); err != nil {
		return err
	}
	if !ok || c.state.Status == outcome.VoiceUnsubscribed {
		return nil // a wrong key is prompted again by the script; after an unsubscribe nothing moves
	}
	if err := c.apply(ctx, outcome.VoiceKeyPressed, map[string]string{"key": e.Key, "action": action, "event_id": e.EventID}, nil); err != nil {
		return err
	}
	switch action {
	case voice.ActionSMS:
		return c.startSMS(ctx, e.Key)
	case voice.ActionUnsubscribe:
		return c.unsubscribe(ctx, e)
	}
	return nil
}

// unsubscribe puts the number on the voice suppression list and publishes UNSUBSCRIBED.
func (c *call) unsubscribe(ctx workflow.Context, e voice.CallEvent) error {
	ev := c.event(outcome.VoiceUnsubscribed, workflow.Now(ctx), "")
	ev.Detail, ev.OptedOut = map[string]string{"reason": "ivr_key", "key": e.Key, "event_id": e.EventID}, true
	return c.publishEvent(ctx, ev, &activities.OptOutInput{PortalID: c.req.PortalID, Channel: string(outcome.Voice),
		Phone: c.prepared.Recipient.Phone, Reason: "ivr_key", MessageID: c.req.MessageID}, false)
}

// startSMS starts the key's SMS as a child SendSMS workflow of its own message id: its lifecycle
// (hold, dispatch, reports, timeline) is an SMS's, reported on its own; it completes no HubSpot
// action, and it lives on after the call ends. One SMS per key.
func (c *call) startSMS(ctx workflow.Context, key string) error {
	var opts *SMSInputs
	for _, k := range c.req.Inputs.Keys {
		if k.Action.Key == key {
			opts = k.SMS
		}
	}
	for _, s := range c.state.SMS {
		if s.Key == key {
			return nil
		}
	}
	id := ChildSMSMessageID(c.req.MessageID, key)
	child := ChildSMS{Key: key, MessageID: id, Status: outcome.Pending}
	if opts == nil {
		child.Status, child.ErrorCode, child.ErrorMessage = outcome.SMSNotSent, outcome.ChildSMSFailed, "the key has no SMS configured"
		c.state.SMS = append(c.state.SMS, child)
		return nil
	}
	in := *opts
	if in.PhoneProperty == "" {
		in.PhoneProperty = c.req.Inputs.PhoneProperty
	}
	if in.Country == "" {
		in.Country = c.req.Inputs.Country
	}
	if in.MessageType == "" {
		in.MessageType = c.req.Inputs.MessageType
	}
	if in.CampaignName == "" {
		in.CampaignName = c.req.Inputs.CampaignName
	}
	in.WaitFor, in.WaitHours = WaitNone, 0 // no HubSpot action waits on it
	req := SMSRequest{MessageID: id, PortalID: c.req.PortalID, ActionDefinitionID: c.req.ActionDefinitionID,
		HubSpotWorkflowID: c.req.HubSpotWorkflowID, ObjectType: c.req.ObjectType, ObjectID: c.req.ObjectID,
		ObjectProperties: c.req.ObjectProperties, Inputs: in}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            SMSWorkflowID(id),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	})
	var exec workflow.Execution
	if err := workflow.ExecuteChildWorkflow(cctx, SendSMSName, req).GetChildWorkflowExecution().Get(ctx, &exec); err != nil {
		child.Status, child.ErrorCode, child.ErrorMessage = outcome.SMSNotSent, outcome.ChildSMSFailed, outcome.ChildSMSFailed.Message()+" "+rootMessage(err)
	}
	c.state.SMS = append(c.state.SMS, child)
	return nil
}

// settleChildren reads where the keys' SMS stand, giving a pending one a few seconds to be sent,
// so the action's outputs say more than PENDING.
func (c *call) settleChildren(ctx workflow.Context) error {
	for try := 0; try < childSettleTries; try++ {
		var ids []string
		for _, s := range c.state.SMS {
			if s.Status == outcome.Pending {
				ids = append(ids, s.MessageID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		if try > 0 {
			if err := workflow.Sleep(ctx, time.Duration(1<<(try-1))*time.Second); err != nil {
				return err
			}
		}
		var got map[string]activities.MessageStatus
		if err := workflow.ExecuteLocalActivity(c.localOptions(ctx), c.a.MessageStatuses, ids).Get(ctx, &got); err != nil {
			return err
		}
		for i, s := range c.state.SMS {
			if m, ok := got[s.MessageID]; ok && m.Status != "" {
				c.state.SMS[i].Status, c.state.SMS[i].ErrorCode, c.state.SMS[i].ErrorMessage = m.Status, m.ErrorCode, m.ErrorMessage
			}
		}
	}
	return nil
}

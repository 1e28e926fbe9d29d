package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/render"
)

// Activity options. Prepare, the pre-dispatch check and Publish are local activities: short, and
// recorded as one marker each, which keeps a delivered message's history small; their retries
// (HubSpot rate limits included) back off up to ten minutes. Dispatch is a regular activity: it
// may wait on a carrier and its attempts must be visible.
var (
	localOptions = workflow.LocalActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute},
	}
	dispatchOptions = workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 6 * time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute},
	}
)

// rank orders the statuses (SPEC §3): a report never moves a message back.
func rank(status string) int {
	switch status {
	case StatusPending:
		return 0
	case StatusSent:
		return 1
	case StatusDelivered, StatusNotDelivered:
		return 2
	case StatusClicked, StatusResponse, StatusUnsubscribed:
		return 3
	}
	return -1
}

// sms is one message's lifecycle state.
type sms struct {
	req       SMSRequest
	settings  activities.Settings
	recipient activities.Recipient
	rendered  activities.Rendered
	state     MessageState
	// held are engagement events (clicks, replies) that came before the delivery report: they
	// are applied once the message is delivered, or when the delivery wait ends.
	held        []func(workflow.Context) error
	deliveryEnd bool
	a           *activities.Activities
}

// SendSMS is the lifecycle of one SMS: resolve, render, hold for the window, check, dispatch,
// follow the reports, complete the HubSpot action, keep listening for a while.
func SendSMS(ctx workflow.Context, req SMSRequest) (SMSResult, error) {
	s := &sms{req: req, state: MessageState{MessageID: req.MessageID, Status: StatusPending}}
	if err := s.setup(ctx); err != nil {
		return SMSResult{}, err
	}
	return s.run(ctx)
}

func (s *sms) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (MessageState, error) { return s.state, nil }); err != nil {
		return err
	}
	return workflow.UpsertTypedSearchAttributes(ctx,
		PortalIDKey.ValueSet(itoa64(s.req.PortalID)),
		RecordIDKey.ValueSet(s.req.ObjectType+":"+s.req.ObjectID),
		ChannelKey.ValueSet("sms"),
		CampaignKey.ValueSet(s.req.Inputs.CampaignName),
		StatusKey.ValueSet(StatusPending),
	)
}

func (s *sms) run(ctx workflow.Context) (SMSResult, error) {
	in := s.req.Inputs
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	wfID := workflow.GetInfo(ctx).WorkflowExecution.ID

	var p activities.Prepared
	if err := workflow.ExecuteLocalActivity(lctx, s.a.Prepare, activities.PrepareInput{
		Recipient: activities.RecipientInput{
			PortalID: s.req.PortalID, ObjectType: s.req.ObjectType, ObjectID: s.req.ObjectID,
			PhoneProperty: in.PhoneProperty, Country: in.Country, Channel: "sms", MessageType: in.MessageType,
			Known: s.req.ObjectProperties, Tokens: render.PropertyNames(in.Message),
		},
		Render: activities.RenderInput{
			MessageID: s.req.MessageID, PortalID: s.req.PortalID, Text: in.Message, MessageType: in.MessageType,
			AllowUnicode: in.AllowUnicode, NationalLanguage: in.NationalLanguage, MaxSegments: in.MaxSegments,
			AddStop: in.AddStop, ShortenURLs: in.ShortenURLs, UTM: in.UTM, Now: workflow.Now(ctx), SendAt: in.SendAt,
		},
		Message: s.event(StatusPending, workflow.Now(ctx), wfID),
	}).Get(ctx, &p); err != nil {
		return SMSResult{}, err
	}
	s.settings, s.recipient, s.rendered = p.Settings, p.Recipient, p.Rendered
	s.state.Segments, s.state.Encoding = s.rendered.Segments, s.rendered.Encoding
	if s.recipient.ErrorCode != "" {
		return s.notSent(ctx, s.recipient.ErrorCode, s.recipient.ErrorMessage)
	}
	if s.rendered.ErrorCode != "" {
		return s.notSent(ctx, s.rendered.ErrorCode, s.rendered.ErrorMessage)
	}
	country := s.country()
	if err := workflow.UpsertTypedSearchAttributes(ctx, CountryKey.ValueSet(country), PhoneHashKey.ValueSet(s.recipient.PhoneHash)); err != nil {
		return SMSResult{}, err
	}

	// Hold durably until the window opens (or send_at), then check again right before dispatch:
	// a STOP that arrived meanwhile, a quota reached, a portal disconnected all stop it here.
	wake, reason := s.rendered.SendAt, s.rendered.HeldReason
	for {
		if err := s.sleepUntil(ctx, wake, reason); err != nil {
			return SMSResult{}, err
		}
		var check activities.DispatchCheck
		if err := workflow.ExecuteLocalActivity(lctx, s.a.CheckBeforeDispatch, activities.DispatchCheckInput{
			MessageID: s.req.MessageID, PortalID: s.req.PortalID, Channel: "sms", Phone: s.recipient.Phone,
			Country: country, MessageType: in.MessageType, ObjectType: s.recipient.ObjectType, ObjectID: s.recipient.ObjectID,
			Sender: in.Sender, SendingUser: in.SendingUser, Now: workflow.Now(ctx),
		}).Get(ctx, &check); err != nil {
			return SMSResult{}, err
		}
		if check.ErrorCode != "" {
			return s.notSent(ctx, check.ErrorCode, check.ErrorMessage)
		}
		if check.DeferUntil == nil {
			break
		}
		wake, reason = *check.DeferUntil, check.DeferReason
	}

	var sent activities.DispatchResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, dispatchOptions), s.a.Dispatch, activities.DispatchInput{
		MessageID: s.req.MessageID, PortalID: s.req.PortalID, From: in.Sender, To: s.recipient.Phone,
		Text: s.rendered.Text, Segments: s.rendered.Segments, Encoding: s.rendered.Encoding,
	}).Get(ctx, &sent); err != nil {
		// Retries exhausted (carrier down for hours): the message did not go.
		return s.notSent(ctx, "CARRIER_UNAVAILABLE", "the carrier could not be reached: "+rootMessage(err))
	}
	s.state.Carrier, s.state.CarrierMessageID = sent.Carrier, sent.CarrierMessageID
	if sent.ErrorCode != "" && !sent.Uncertain {
		return s.notSentBy(ctx, sent)
	}
	if sent.Uncertain {
		// The carrier may have the message; we did not resend. It counts as sent, flagged, and
		// a report by our reference can still confirm it.
		s.state.ErrorCode, s.state.ErrorMessage = CodeSendUncertain, sent.ErrorMessage
	}
	waitNone := in.WaitFor == "" || in.WaitFor == WaitNone
	if err := s.apply(ctx, StatusSent, nil, nil, waitNone); err != nil {
		return SMSResult{}, err
	}
	return s.follow(ctx)
}

func (s *sms) country() string {
	if s.recipient.Region != "" {
		return s.recipient.Region
	}
	return s.req.Inputs.Country
}

// follow waits for reports, completes the HubSpot action when wait_for is met or wait_hours run
// out, then keeps listening for ListenAfter.
func (s *sms) follow(ctx workflow.Context) (SMSResult, error) {
	in := s.req.Inputs
	reports := workflow.GetSignalChannel(ctx, SignalCarrierReport)
	replies := workflow.GetSignalChannel(ctx, SignalReply)
	clicks := workflow.GetSignalChannel(ctx, SignalClick)
	unsubs := workflow.GetSignalChannel(ctx, SignalUnsubscribe)

	waitFor := in.WaitFor
	if waitFor == "" {
		waitFor = WaitNone
	}
	waitLimit := time.Duration(in.WaitHours) * time.Hour
	if waitLimit <= 0 {
		waitLimit = s.settings.DefaultWait
	}
	tctx, cancelTimers := workflow.WithCancel(ctx)
	defer cancelTimers()
	waitTimer := workflow.NewTimer(tctx, waitLimit)
	deliveryTimer := workflow.NewTimer(tctx, s.settings.DeliveryTimeout)
	var listenTimer workflow.Future
	listenEnded := false
	var failure error

	sel := workflow.NewSelector(ctx)
	sel.AddReceive(reports, func(c workflow.ReceiveChannel, _ bool) {
		var r CarrierReport
		c.Receive(ctx, &r)
		failure = s.onReport(ctx, r)
	})
	sel.AddReceive(replies, func(c workflow.ReceiveChannel, _ bool) {
		var r Reply
		c.Receive(ctx, &r)
		failure = s.engage(ctx, func(ctx workflow.Context) error {
			s.state.Replies++
			return s.onReply(ctx, r)
		})
	})
	sel.AddReceive(clicks, func(c workflow.ReceiveChannel, _ bool) {
		var k Click
		c.Receive(ctx, &k)
		failure = s.engage(ctx, func(ctx workflow.Context) error {
			s.state.Clicks++
			return s.apply(ctx, StatusClicked, map[string]string{"url": k.URL, "event_id": k.EventID}, nil, false)
		})
	})
	sel.AddReceive(unsubs, func(c workflow.ReceiveChannel, _ bool) {
		var u Unsubscribe
		c.Receive(ctx, &u)
		failure = s.engage(ctx, func(ctx workflow.Context) error { return s.optOut(ctx, "unsubscribe_link", u.EventID) })
	})
	sel.AddFuture(waitTimer, func(workflow.Future) {
		if !s.state.ActionCompleted {
			failure = s.completeNow(ctx)
		}
	})
	sel.AddFuture(deliveryTimer, func(workflow.Future) {
		s.deliveryEnd = true
		if rank(s.state.Status) < 2 && s.state.ErrorCode == "" {
			s.state.ErrorCode = CodeDeliveryUnconfirmed
			s.state.ErrorMessage = "no delivery report from the carrier in time; last known status " + s.state.Status
		}
		failure = s.flushHeld(ctx)
	})

	for {
		if failure == nil && !s.state.ActionCompleted && s.waitMet(waitFor) {
			failure = s.completeNow(ctx) // met by a status already published: complete on its own
		}
		if failure != nil {
			return SMSResult{}, failure
		}
		if s.state.ActionCompleted && listenTimer == nil {
			listenTimer = workflow.NewTimer(tctx, s.settings.ListenAfter)
			sel.AddFuture(listenTimer, func(workflow.Future) { listenEnded = true })
		}
		if listenEnded {
			break
		}
		sel.Select(ctx)
	}
	// Take what is still buffered (reports racing the end) so nothing signalled is lost.
	for sel.HasPending() {
		sel.Select(ctx)
		if failure != nil {
			return SMSResult{}, failure
		}
	}
	return s.result(), nil
}

// waitMet says whether the HubSpot action's wait_for is satisfied, or can no longer be.
func (s *sms) waitMet(waitFor string) bool {
	st := s.state.Status
	if st == StatusNotDelivered || st == StatusNotSent {
		return true
	}
	switch waitFor {
	case WaitDelivery:
		return rank(st) >= 2
	case WaitClick:
		return s.state.Clicks > 0 || st == StatusUnsubscribed
	case WaitReply:
		return s.state.Replies > 0 || st == StatusUnsubscribed
	}
	return true
}

func (s *sms) onReport(ctx workflow.Context, r CarrierReport) error {
	var status string
	switch r.Status {
	case ReportDelivered:
		status = StatusDelivered
	case ReportUndelivered, ReportFailed:
		status = StatusNotDelivered
	default:
		return nil // queued / sent: the dispatch already made it SENT; a late one changes nothing
	}
	if rank(s.state.Status) >= rank(status) {
		return nil // out of order or duplicate: never move back
	}
	if r.CarrierMessageID != "" && s.state.CarrierMessageID == "" {
		s.state.CarrierMessageID = r.CarrierMessageID
	}
	if status == StatusDelivered && s.state.ErrorCode == CodeSendUncertain {
		s.state.ErrorCode, s.state.ErrorMessage = "", ""
	}
	detail := map[string]string{"carrier_status": r.Status, "carrier_error_code": r.ErrorCode, "event_id": r.EventID}
	if status == StatusNotDelivered {
		s.state.ErrorCode, s.state.ErrorMessage = carrierCode(r), r.ErrorMessage
	}
	ev := s.event(status, workflow.Now(ctx), "")
	ev.Detail, ev.NumberInvalid, ev.OptedOut = detail, r.NumberInvalid, r.OptedOut
	var opt *activities.OptOutInput
	if r.OptedOut {
		opt = &activities.OptOutInput{PortalID: s.req.PortalID, Channel: "sms", Phone: s.recipient.Phone,
			Reason: "carrier_opt_out", MessageID: s.req.MessageID}
	}
	if err := s.publishEvent(ctx, ev, opt, s.completesWith(status)); err != nil {
		return err
	}
	return s.flushHeld(ctx)
}

func carrierCode(r CarrierReport) string {
	switch {
	case r.NumberInvalid:
		return "NUMBER_NOT_ASSIGNED"
	case r.OptedOut:
		return CodeOptedOut
	case r.Permanent:
		return "UNDELIVERABLE"
	}
	return "NOT_DELIVERED_TEMPORARY"
}

func (s *sms) onReply(ctx workflow.Context, r Reply) error {
	detail := map[string]string{"text": r.Text, "event_id": r.EventID}
	switch {
	case r.IsStop:
		return s.optOut(ctx, "stop_reply", r.EventID)
	case r.IsStart:
		return s.apply(ctx, StatusResponse, detail, &activities.OptOutInput{
			PortalID: s.req.PortalID, Channel: "sms", Phone: s.recipient.Phone, Reason: "start_reply",
			MessageID: s.req.MessageID, OptIn: true}, s.completesWith(StatusResponse))
	}
	return s.apply(ctx, StatusResponse, detail, nil, s.completesWith(StatusResponse))
}

func (s *sms) optOut(ctx workflow.Context, reason, eventID string) error {
	ev := s.event(StatusUnsubscribed, workflow.Now(ctx), "")
	ev.Detail, ev.OptedOut = map[string]string{"reason": reason, "event_id": eventID}, true
	return s.publishEvent(ctx, ev, &activities.OptOutInput{
		PortalID: s.req.PortalID, Channel: "sms", Phone: s.recipient.Phone, Reason: reason, MessageID: s.req.MessageID,
	}, s.completesWith(StatusUnsubscribed))
}

// engage applies a click or reply now when the message is delivered (or the delivery wait is
// over), else holds it until then: SENT > DELIVERED > CLICKED.
func (s *sms) engage(ctx workflow.Context, apply func(workflow.Context) error) error {
	s.held = append(s.held, apply)
	if rank(s.state.Status) >= 2 || s.deliveryEnd {
		return s.flushHeld(ctx)
	}
	return nil
}

func (s *sms) flushHeld(ctx workflow.Context) error {
	for len(s.held) > 0 {
		apply := s.held[0]
		s.held = s.held[1:]
		if err := apply(ctx); err != nil {
			return err
		}
	}
	return nil
}

// sleepUntil holds the message on a durable timer, visible in the Web UI (SmsWakeAt) and the
// state query.
func (s *sms) sleepUntil(ctx workflow.Context, wake time.Time, reason string) error {
	d := wake.Sub(workflow.Now(ctx))
	if d <= 0 {
		return nil
	}
	s.state.WakeAt, s.state.HeldReason = &wake, reason
	if err := workflow.UpsertTypedSearchAttributes(ctx, WakeAtKey.ValueSet(wake)); err != nil {
		return err
	}
	if err := workflow.NewTimer(ctx, d).Get(ctx, nil); err != nil {
		return err
	}
	s.state.WakeAt, s.state.HeldReason = nil, ""
	return workflow.UpsertTypedSearchAttributes(ctx, WakeAtKey.ValueUnset())
}

func (s *sms) notSentBy(ctx workflow.Context, r activities.DispatchResult) (SMSResult, error) {
	s.state.ErrorCode, s.state.ErrorMessage = r.ErrorCode, r.ErrorMessage
	ev := s.event(StatusNotSent, workflow.Now(ctx), "")
	ev.Detail, ev.OptedOut, ev.NumberInvalid = map[string]string{"carrier": r.Carrier}, r.OptedOut, r.NumberInvalid
	var opt *activities.OptOutInput
	if r.OptedOut {
		opt = &activities.OptOutInput{PortalID: s.req.PortalID, Channel: "sms", Phone: s.recipient.Phone,
			Reason: "carrier_opt_out", MessageID: s.req.MessageID}
	}
	if err := s.publishEvent(ctx, ev, opt, true); err != nil {
		return SMSResult{}, err
	}
	return s.result(), nil
}

// notSent ends the message before any carrier saw it.
func (s *sms) notSent(ctx workflow.Context, code, message string) (SMSResult, error) {
	s.state.ErrorCode, s.state.ErrorMessage = code, message
	ev := s.event(StatusNotSent, workflow.Now(ctx), "")
	ev.OptedOut = code == CodeOptedOut
	if err := s.publishEvent(ctx, ev, nil, true); err != nil {
		return SMSResult{}, err
	}
	return s.result(), nil
}

// completesWith says whether applying status meets the action's wait_for, so the completion
// rides in the same Publish.
func (s *sms) completesWith(status string) bool {
	if s.state.ActionCompleted {
		return false
	}
	prev := s.state.Status
	s.state.Status = status
	met := s.waitMet(s.req.Inputs.WaitFor)
	s.state.Status = prev
	return met
}

// apply publishes a status change with its details.
func (s *sms) apply(ctx workflow.Context, status string, detail map[string]string, opt *activities.OptOutInput, complete bool) error {
	ev := s.event(status, workflow.Now(ctx), "")
	ev.Detail = detail
	return s.publishEvent(ctx, ev, opt, complete || s.completesWith(status))
}

// event is the StatusEvent of the message as it stands, with the given status.
func (s *sms) event(status string, at time.Time, workflowID string) activities.StatusEvent {
	in := s.req.Inputs
	ev := activities.StatusEvent{
		MessageID: s.req.MessageID, PortalID: s.req.PortalID, ObjectType: s.req.ObjectType, ObjectID: s.req.ObjectID,
		Channel: "sms", Phone: s.recipient.Phone, Country: s.recipient.Region, Sender: in.Sender, SendingUser: in.SendingUser,
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
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(ev.Status)); err != nil {
		return err
	}
	ev.WorkflowID = workflow.GetInfo(ctx).WorkflowExecution.ID
	ev.ErrorCode, ev.ErrorMessage = s.state.ErrorCode, s.state.ErrorMessage
	in := activities.PublishInput{Event: &ev, OptOut: opt}
	if complete {
		in.Complete = s.completion()
	}
	return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localOptions), s.a.Publish, in).Get(ctx, nil)
}

// completeNow completes the HubSpot action on its own (wait_hours ran out, or a wait met earlier).
func (s *sms) completeNow(ctx workflow.Context) error {
	c := s.completion()
	if c == nil {
		return nil
	}
	return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localOptions), s.a.Publish,
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
	return &activities.CompleteInput{PortalID: s.req.PortalID, CallbackID: s.req.CallbackID, Outputs: s.result().Outputs()}
}

func (s *sms) result() SMSResult {
	return SMSResult{
		Status: s.state.Status, MessageID: s.req.MessageID, CampaignName: s.req.Inputs.CampaignName,
		Segments: s.state.Segments, Encoding: s.state.Encoding, ErrorCode: s.state.ErrorCode, ErrorMessage: s.state.ErrorMessage,
	}
}

func rootMessage(err error) string {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return strings.TrimSpace(err.Error())
		}
		err = u.Unwrap()
	}
}

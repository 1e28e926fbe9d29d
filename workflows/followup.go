package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/outcome"
)

// followUp is the part of the lifecycle after dispatch: it waits for reports, clicks, replies and
// unsubscribes, completes the HubSpot action when its wait_for is met or wait_hours run out, then
// keeps listening for the portal's listening period.
type followUp struct {
	*sms
	ctx         workflow.Context
	err         error // the first failure of a handler: ends the workflow
	listenEnded bool
}

// engagement is a click, a reply or an unsubscribe waiting for the delivery report.
type engagement struct {
	Click       *Click
	Reply       *Reply
	Unsubscribe *Unsubscribe
}

// followOutcome runs the follow-up until the listening period ends, then takes what is still
// buffered (reports racing the end) so nothing signalled is lost.
func (s *sms) followOutcome(ctx workflow.Context) error {
	if s.version >= versionCompact {
		return s.followOnDeadlines(ctx)
	}
	f := &followUp{sms: s, ctx: ctx}
	waitLimit := time.Duration(s.req.Inputs.WaitHours) * time.Hour
	if waitLimit <= 0 {
		waitLimit = s.settings.DefaultWait
	}
	tctx, cancelTimers := workflow.WithCancel(ctx)
	if s.version < versionGuarantees {
		defer cancelTimers()
	} // else timers still running when the run completes end with it, without a command each
	waitTimer := workflow.NewTimer(tctx, waitLimit)
	deliveryTimer := workflow.NewTimer(tctx, s.settings.DeliveryTimeout)

	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalCarrierReport), f.receiveReport)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalReply), f.receiveReply)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalClick), f.receiveClick)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalUnsubscribe), f.receiveUnsubscribe)
	sel.AddFuture(waitTimer, f.waitHoursRanOut)
	sel.AddFuture(deliveryTimer, f.deliveryWaitEnded)

	listening := false
	for {
		if f.err == nil && !s.state.ActionCompleted && s.waitMet() {
			f.err = s.completeNow(ctx) // met by a status already published: complete on its own
		}
		if f.err != nil {
			return f.err
		}
		if s.state.ActionCompleted && !listening {
			listening = true
			sel.AddFuture(workflow.NewTimer(tctx, s.settings.ListenAfter), f.listeningEnded)
		}
		if f.listenEnded {
			break
		}
		if listening && s.version >= versionGuarantees && workflow.GetInfo(ctx).GetCurrentHistoryLength() > listenHistoryCap {
			// A recipient who keeps engaging cannot grow the history without bound: the rest of
			// the listening period is counted in PostgreSQL only.
			workflow.GetLogger(ctx).Warn("listening ended early at the history cap", "message_id", s.req.MessageID)
			break
		}
		sel.Select(ctx)
	}
	for sel.HasPending() {
		sel.Select(ctx)
		if f.err != nil {
			return f.err
		}
	}
	return nil
}

func (f *followUp) receiveReport(c workflow.ReceiveChannel, _ bool) {
	var r CarrierReport
	c.Receive(f.ctx, &r)
	if f.firstTime(SignalCarrierReport, r.EventID) {
		f.err = f.onReport(f.ctx, r)
	}
}

func (f *followUp) receiveReply(c workflow.ReceiveChannel, _ bool) {
	var r Reply
	c.Receive(f.ctx, &r)
	if f.firstTime(SignalReply, r.EventID) {
		f.err = f.engage(f.ctx, engagement{Reply: &r})
	}
}

func (f *followUp) receiveClick(c workflow.ReceiveChannel, _ bool) {
	var k Click
	c.Receive(f.ctx, &k)
	if f.firstTime(SignalClick, k.EventID) {
		f.err = f.engage(f.ctx, engagement{Click: &k})
	}
}

func (f *followUp) receiveUnsubscribe(c workflow.ReceiveChannel, _ bool) {
	var u Unsubscribe
	c.Receive(f.ctx, &u)
	if f.firstTime(SignalUnsubscribe, u.EventID) {
		f.err = f.engage(f.ctx, engagement{Unsubscribe: &u})
	}
}

// firstTime says whether the signal's event is new: the outbox delivers at least once, so an
// event may come twice; it is applied once.
func (s *sms) firstTime(signal, eventID string) bool {
	if s.version < versionGuarantees || eventID == "" {
		return true
	}
	key := signal + "/" + eventID
	if s.seen[key] {
		return false
	}
	s.seen[key] = true
	return true
}

// followOnDeadlines is the follow-up from versionCompact: one timer at a time, set for the
// earliest deadline still ahead (wait_hours, the delivery report's time to live, the end of the
// listening period) and set again, the previous one cancelled, when that earliest deadline
// changes. A delivered message costs one timer start, one cancel and the listening timer.
func (s *sms) followOnDeadlines(ctx workflow.Context) error {
	f := &followUp{sms: s, ctx: ctx}
	now := workflow.Now(ctx)
	waitLimit := time.Duration(s.req.Inputs.WaitHours) * time.Hour
	if waitLimit <= 0 {
		waitLimit = s.settings.DefaultWait
	}
	d := &deadlines{wait: now.Add(waitLimit), delivery: now.Add(s.settings.DeliveryTimeout)}

	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalCarrierReport), f.receiveReport)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalReply), f.receiveReply)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalClick), f.receiveClick)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalUnsubscribe), f.receiveUnsubscribe)

	var armed time.Time
	var cancelArmed workflow.CancelFunc
	for {
		if f.err == nil && !s.state.ActionCompleted && s.waitMet() {
			f.err = s.completeNow(ctx) // met by a status already published: complete on its own
		}
		if f.err != nil {
			return f.err
		}
		if s.state.ActionCompleted && d.listen.IsZero() {
			d.listen = workflow.Now(ctx).Add(s.settings.ListenAfter)
		}
		if f.listenEnded {
			break
		}
		if !d.listen.IsZero() && workflow.GetInfo(ctx).GetCurrentHistoryLength() > listenHistoryCap {
			workflow.GetLogger(ctx).Warn("listening ended early at the history cap", "message_id", s.req.MessageID)
			break
		}
		if next := d.next(s); !next.After(workflow.Now(ctx)) {
			f.deadlineReached(d) // already due (a setting of zero): no timer
			continue
		} else if !next.Equal(armed) {
			if cancelArmed != nil {
				cancelArmed()
			}
			tctx, cancel := workflow.WithCancel(ctx)
			armed, cancelArmed = next, cancel
			sel.AddFuture(workflow.NewTimer(tctx, next.Sub(workflow.Now(ctx))), func(t workflow.Future) {
				if t.Get(ctx, nil) == nil { // a cancelled timer is not a deadline
					f.deadlineReached(d)
				}
			})
		}
		sel.Select(ctx)
	}
	for sel.HasPending() {
		sel.Select(ctx)
		if f.err != nil {
			return f.err
		}
	}
	return nil
}

// deadlines are the follow-up's deadlines; listen is zero until the action is completed.
type deadlines struct {
	wait, delivery, listen time.Time
}

// next is the earliest deadline still to come: wait_hours while the action waits, the delivery
// report's time to live while the message is SENT, the listening period's end once listening.
func (d *deadlines) next(s *sms) time.Time {
	var next time.Time
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if !s.state.ActionCompleted {
		earliest(d.wait)
	}
	if s.awaitsReport() {
		earliest(d.delivery)
	}
	if !d.listen.IsZero() {
		earliest(d.listen)
	}
	return next
}

// awaitsReport says whether the message still waits for its delivery report.
func (s *sms) awaitsReport() bool {
	return !s.deliveryEnd && s.state.Status.Rank() < outcome.SMSDelivered.Rank()
}

// deadlineReached applies the deadlines that passed.
func (f *followUp) deadlineReached(d *deadlines) {
	now := workflow.Now(f.ctx)
	if !f.state.ActionCompleted && !now.Before(d.wait) {
		f.waitHoursRanOut(nil)
	}
	if f.err == nil && f.awaitsReport() && !now.Before(d.delivery) {
		f.deliveryExpired()
	}
	if f.err == nil && !d.listen.IsZero() && !now.Before(d.listen) {
		f.listenEnded = true
	}
}

// deliveryExpired ends the delivery wait of a message no report came for: NOT_DELIVERED
// DELIVERY_EXPIRED, a temporary failure (a report coming later still makes it DELIVERED), and
// the engagement held for the report is applied.
func (f *followUp) deliveryExpired() {
	f.deliveryEnd = true
	if f.state.Status == outcome.SMSSent {
		f.state.ErrorCode = outcome.DeliveryExpired
		f.state.ErrorMessage = "no final delivery report from the carrier within " + f.settings.DeliveryTimeout.String()
		if f.err = f.apply(f.ctx, outcome.SMSNotDelivered, map[string]string{"reason": "delivery_report_ttl"}, nil); f.err != nil {
			return
		}
	}
	f.err = f.flushHeld(f.ctx)
}

// waitHoursRanOut completes the action with the status reached, whatever it waited for.
func (f *followUp) waitHoursRanOut(workflow.Future) {
	if !f.state.ActionCompleted {
		f.err = f.completeNow(f.ctx)
	}
}

// deliveryWaitEnded stops waiting for a delivery report: the message stays as it is, flagged
// when no report came, and the engagement held for the report is applied.
func (f *followUp) deliveryWaitEnded(workflow.Future) {
	f.deliveryEnd = true
	if f.state.Status.Rank() < outcome.SMSDelivered.Rank() && f.state.ErrorCode == "" {
		f.state.ErrorCode = outcome.DeliveryUnconfirmed
		f.state.ErrorMessage = "no delivery report from the carrier in time; last known status " + string(f.state.Status)
	}
	f.err = f.flushHeld(f.ctx)
}

func (f *followUp) listeningEnded(workflow.Future) { f.listenEnded = true }

// waitMet says whether the HubSpot action's wait_for is satisfied, or can no longer be.
func (s *sms) waitMet() bool {
	return waitMet(s.req.Inputs.WaitFor, s.state.Status, s.state.Clicks, s.state.Replies)
}

// onReport applies a delivery report: DELIVERED or NOT_DELIVERED, never backwards.
func (s *sms) onReport(ctx workflow.Context, r CarrierReport) error {
	var status outcome.Status
	switch r.Status {
	case outcome.ReportDelivered:
		status = outcome.SMSDelivered
	case outcome.ReportUndelivered, outcome.ReportFailed:
		status = outcome.SMSNotDelivered
	default:
		return nil // queued / sent: the dispatch already made it SENT; a late one changes nothing
	}
	expiredThenDelivered := s.version >= versionCompact && status == outcome.SMSDelivered &&
		s.state.Status == outcome.SMSNotDelivered && s.state.ErrorCode == outcome.DeliveryExpired
	if s.state.Status.Rank() >= status.Rank() && !expiredThenDelivered {
		return nil // out of order or duplicate: never move back
	}
	if expiredThenDelivered {
		s.state.ErrorCode, s.state.ErrorMessage = "", "" // the report came after its time to live
	}
	if r.CarrierMessageID != "" && s.state.CarrierMessageID == "" {
		s.state.CarrierMessageID = r.CarrierMessageID
	}
	if status == outcome.SMSDelivered && s.state.ErrorCode == outcome.SendUncertain {
		s.state.ErrorCode, s.state.ErrorMessage = "", ""
	}
	detail := map[string]string{"carrier_status": string(r.Status), "carrier_error_code": r.ErrorCode, "event_id": r.EventID}
	if status == outcome.SMSNotDelivered {
		s.state.ErrorCode, s.state.ErrorMessage = notDeliveredCode(r), r.ErrorMessage
	}
	ev := s.event(status, workflow.Now(ctx), "")
	ev.Detail, ev.NumberInvalid, ev.OptedOut = detail, r.NumberInvalid, r.OptedOut
	var opt *activities.OptOutInput
	if r.OptedOut {
		opt = s.optOutInput("carrier_opt_out", false)
	}
	if err := s.publishEvent(ctx, ev, opt, s.completesWith(status)); err != nil {
		return err
	}
	return s.flushHeld(ctx)
}

// notDeliveredCode is the error code of a report that the message was not delivered.
func notDeliveredCode(r CarrierReport) outcome.Code {
	switch {
	case r.NumberInvalid:
		return outcome.NumberNotAssigned
	case r.OptedOut:
		return outcome.OptedOut
	case r.Permanent:
		return outcome.Undeliverable
	}
	return outcome.NotDeliveredTemporary
}

// engage applies a click or reply now when the message is delivered (or the delivery wait is
// over), else holds it until then: SENT > DELIVERED > CLICKED.
// From versionGuarantees a reply or an unsubscribe applies at once: a STOP must not wait behind a
// delivery report that may never come.
func (s *sms) engage(ctx workflow.Context, e engagement) error {
	if s.version >= versionGuarantees && e.Click == nil {
		return s.applyEngagement(ctx, e)
	}
	s.held = append(s.held, e)
	if s.state.Status.Rank() >= outcome.SMSDelivered.Rank() || s.deliveryEnd {
		return s.flushHeld(ctx)
	}
	return nil
}

// flushHeld applies the held engagement, oldest first.
func (s *sms) flushHeld(ctx workflow.Context) error {
	for len(s.held) > 0 {
		e := s.held[0]
		s.held = s.held[1:]
		if err := s.applyEngagement(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (s *sms) applyEngagement(ctx workflow.Context, e engagement) error {
	if s.state.Status == outcome.SMSUnsubscribed && s.version >= versionGuarantees {
		return s.afterUnsubscribe(ctx, e)
	}
	switch {
	case e.Click != nil:
		s.state.Clicks++
		return s.apply(ctx, outcome.SMSClicked, map[string]string{"url": e.Click.URL, "event_id": e.Click.EventID}, nil)
	case e.Reply != nil:
		s.state.Replies++
		return s.onReply(ctx, *e.Reply)
	case e.Unsubscribe != nil:
		return s.optOut(ctx, "unsubscribe_link", e.Unsubscribe.EventID)
	}
	return nil
}

// onReply applies a reply: STOP opts out, START opts back in, anything else is a response.
func (s *sms) onReply(ctx workflow.Context, r Reply) error {
	detail := map[string]string{"text": r.Text, "event_id": r.EventID}
	switch {
	case r.IsStop:
		return s.optOut(ctx, "stop_reply", r.EventID)
	case r.IsStart:
		return s.apply(ctx, outcome.SMSResponse, detail, s.optOutInput("start_reply", true))
	}
	return s.apply(ctx, outcome.SMSResponse, detail, nil)
}

// optOut publishes UNSUBSCRIBED with the suppression of the number.
func (s *sms) optOut(ctx workflow.Context, reason, eventID string) error {
	ev := s.event(outcome.SMSUnsubscribed, workflow.Now(ctx), "")
	ev.Detail, ev.OptedOut = map[string]string{"reason": reason, "event_id": eventID}, true
	return s.publishEvent(ctx, ev, s.optOutInput(reason, false), s.completesWith(outcome.SMSUnsubscribed))
}

// optOutInput is the suppression (or, with optIn, its removal) of the message's number.
func (s *sms) optOutInput(reason string, optIn bool) *activities.OptOutInput {
	return &activities.OptOutInput{PortalID: s.req.PortalID, Channel: string(outcome.SMS), Phone: s.recipient.Phone,
		Reason: reason, MessageID: s.req.MessageID, OptIn: optIn}
}

// afterUnsubscribe applies engagement that comes once the recipient unsubscribed: it is counted
// (the events are stored by the API already) but does not move the message off UNSUBSCRIBED,
// except a START, which opts the number back in.
func (s *sms) afterUnsubscribe(ctx workflow.Context, e engagement) error {
	switch {
	case e.Click != nil:
		s.state.Clicks++
	case e.Reply != nil:
		s.state.Replies++
		if e.Reply.IsStart {
			return s.onReply(ctx, *e.Reply)
		}
	}
	return nil
}

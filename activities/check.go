package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"smsflow/carrier/dispatch"
	"smsflow/compliance"
	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/store"
)

// PropSMSConsent is the record property holding SMS consent where a country requires it (created
// at install with our other properties).
const PropSMSConsent = "smsflow_sms_consent"

// DispatchCheckInput is checked right before dispatch.
type DispatchCheckInput struct {
	MessageID string `json:"MessageID"`
	PortalID  int64  `json:"PortalID"`
	Channel   string `json:"Channel"`
	Phone     string `json:"Phone"`
	Country   string `json:"Country"`
	// Timezones are the number's time zones, for the window a quota defer waits for; empty: the
	// country rule's own zones.
	Timezones   []string  `json:"Timezones"`
	MessageType string    `json:"MessageType"`
	ObjectType  string    `json:"ObjectType"`
	ObjectID    string    `json:"ObjectID"`
	Sender      string    `json:"Sender"`
	SendingUser string    `json:"SendingUser"`
	Now         time.Time `json:"Now"`
}

// DispatchCheck says whether the message may go now.
type DispatchCheck struct {
	// DeferUntil: a quota reached with "defer"; try again then — the first instant from the end
	// of the quota's period at which the country's window is open.
	DeferUntil   *time.Time   `json:"DeferUntil"`
	DeferReason  string       `json:"DeferReason"`
	ErrorCode    outcome.Code `json:"ErrorCode"`
	ErrorMessage string       `json:"ErrorMessage"`
}

// CheckBeforeDispatch checks, right before the carrier, what may have changed while the message
// waited: the suppression list, consent, the portal's connection and the quotas (counted here).
func (a *Activities) CheckBeforeDispatch(ctx context.Context, in DispatchCheckInput) (DispatchCheck, error) {
	if off, reason, err := a.Store.Suppressed(ctx, in.PortalID, channelOr(in.Channel), in.Phone); err != nil {
		return DispatchCheck{}, err
	} else if off {
		return DispatchCheck{ErrorCode: outcome.OptedOut, ErrorMessage: "the recipient opted out (" + reason + ")"}, nil
	}
	p, err := a.Store.PortalSettingsOf(ctx, in.PortalID)
	if err != nil {
		return DispatchCheck{}, err
	}
	if !p.Connected {
		return DispatchCheck{ErrorCode: outcome.PortalDisconnected, ErrorMessage: outcome.PortalDisconnectedMessage}, nil
	}
	category, _ := compliance.ParseCategory(in.MessageType)
	if rules.ConsentRequired(in.Country, category) {
		prop := PropSMSConsent
		if v, ok := p.Settings["consent_property"].(string); ok && v != "" {
			prop = v
		}
		v, err := a.HubSpot.ReadProperties(ctx, in.PortalID, in.ObjectType, in.ObjectID, []string{prop})
		if errors.Is(err, hubspot.ErrPortalDisconnected) {
			return DispatchCheck{ErrorCode: outcome.PortalDisconnected, ErrorMessage: outcome.PortalDisconnectedMessage}, nil
		}
		if err != nil {
			return DispatchCheck{}, err
		}
		if b, _ := strconv.ParseBool(strings.TrimSpace(v[prop])); !b && !strings.EqualFold(strings.TrimSpace(v[prop]), "yes") {
			return DispatchCheck{ErrorCode: outcome.ConsentMissing, ErrorMessage: fmt.Sprintf("marketing SMS to %s needs express consent: the record's %s is not true", in.Country, prop)}, nil
		}
	}
	if capped, err := a.checkFrequency(ctx, in, p.Settings); err != nil || capped != nil {
		if capped == nil {
			return DispatchCheck{}, err
		}
		return *capped, err
	}
	q, err := a.Store.ReserveQuota(ctx, in.MessageID, in.PortalID,
		[]store.QuotaSubject{{Scope: "sender", Subject: in.Sender}, {Scope: "user", Subject: in.SendingUser}}, in.Now)
	if err != nil {
		return DispatchCheck{}, err
	}
	if !q.OK {
		// The message does not go now: its frequency count is taken back.
		if err := a.Store.UncountFrequency(ctx, in.MessageID); err != nil {
			return DispatchCheck{}, err
		}
		what := fmt.Sprintf("quota of %d messages for %s %q in %s reached", q.Limit, q.Scope, q.Subject, q.Period)
		if q.OnExceed == "defer" {
			wake, why := a.quotaWake(q.Resets, in)
			countHold(holdQuota, in.Country, wake)
			return DispatchCheck{DeferUntil: &wake, DeferReason: what + "; deferred to the next period" + why}, nil
		}
		return DispatchCheck{ErrorCode: outcome.QuotaExceeded, ErrorMessage: what}, nil
	}
	return DispatchCheck{}, nil
}

// quotaWake is when a message deferred by a quota tries again: the quota's period ends at resets
// (00:00 UTC), and a marketing message then waits for its country's window, so that it wakes
// inside both (not at 00:00 UTC, outside the French window). Every message deferred by a quota
// wakes at that same instant, so each is spread over Config.Sending.WakeSpread by its id, inside
// the window. Without Country or MessageType, or where the window cannot be computed (the
// dispatch's window check still holds it), at resets (spread).
func (a *Activities) quotaWake(resets time.Time, in DispatchCheckInput) (time.Time, string) {
	wake, why := a.windowWake(resets, in)
	spread := a.spreadWake(wake, in.MessageID, in.Country, in.Timezones, in.MessageType)
	return spread, why + wakeNote(wake, spread)
}

// windowWake is the first instant from `from` at which the message's window is open (from itself
// without Country or MessageType, or where the window cannot be computed), and the hold's
// reason to add.
func (a *Activities) windowWake(from time.Time, in DispatchCheckInput) (time.Time, string) {
	if in.Country == "" || in.MessageType == "" {
		return from, ""
	}
	d, err := a.nextSendTime(from, in.Country, in.Timezones, in.MessageType)
	if err != nil || !d.Held {
		return from, ""
	}
	return d.SendAt, ", in the window: " + d.Reason
}

// checkRefusal is the pre-dispatch check's refusal, returned by the dispatch's gate.
type checkRefusal struct {
	code    outcome.Code
	message string
}

func (r *checkRefusal) Error() string { return string(r.code) + ": " + r.message }

// checkGate runs the pre-dispatch check as the dispatch's gate, right before the carrier call:
// once per dispatch (a failover to the secondary carrier is not checked again), at the gate's
// time. Nil without a check to make.
func (a *Activities) checkGate(ctx context.Context, in *DispatchCheckInput) dispatch.Gate {
	if in == nil {
		return nil
	}
	var done *dispatch.Hold
	return func(now time.Time) (dispatch.Hold, error) {
		if done != nil {
			return *done, nil
		}
		c := *in
		c.Now = now
		res, err := a.CheckBeforeDispatch(ctx, c)
		if err != nil {
			return dispatch.Hold{}, err
		}
		if res.ErrorCode != "" {
			return dispatch.Hold{}, &checkRefusal{code: res.ErrorCode, message: res.ErrorMessage}
		}
		var hold dispatch.Hold
		if res.DeferUntil != nil {
			hold = dispatch.Hold{Until: *res.DeferUntil, Reason: res.DeferReason}
		}
		done = &hold
		return hold, nil
	}
}

package activities

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"go.temporal.io/sdk/activity"

	"smsflow/config"
	"smsflow/phone"
	"smsflow/store"
)

// SenderClass is the class whose rate a sender gets by default: alphanumeric for an id with a
// letter, short code for up to 8 digits, toll-free for a number the numbering plan says is, else
// long code.
func SenderClass(sender string) string {
	s := strings.TrimSpace(sender)
	if strings.IndexFunc(s, unicode.IsLetter) >= 0 {
		return config.ClassAlphanumeric
	}
	digits := strings.TrimLeft(s, "+")
	if !strings.HasPrefix(s, "+") && len(digits) <= 8 {
		return config.ClassShortCode
	}
	if n, err := phone.Parse("+"+digits, ""); err == nil && n.Type == phone.TollFree {
		return config.ClassTollFree
	}
	return config.ClassLongCode
}

// senderInterval is the time between two messages of sender: from the portal's own rate for it,
// else its class's (Config.Sending.SenderRates). 0: not paced (no sender, or no rate configured).
func (a *Activities) senderInterval(ctx context.Context, portalID int64, sender string) (time.Duration, float64, error) {
	if store.SenderKey(sender) == "" {
		return 0, 0, nil
	}
	rate := a.Config.Sending.SenderRates.Of(SenderClass(sender))
	if own, ok, err := a.Store.SenderRate(ctx, portalID, sender); err != nil {
		return 0, 0, err
	} else if ok {
		rate = own
	}
	if rate <= 0 {
		return 0, 0, nil
	}
	return store.SlotInterval(time.Duration(float64(time.Second) / rate)), rate, nil
}

// pacingMargin is the part of the Dispatch activity's time kept for the carrier call after a
// wait for the sender's slot, beyond the carrier's own timeout.
const pacingMargin = 2 * time.Second

// waitForSlot takes the message's send slot in its sender's lane (the same slot when Dispatch is
// retried) and waits for it when it is near: within Config.Sending.PacingMaxWait and the
// activity's deadline, heartbeating. A slot further away comes back as a hold until it (nil
// when the message may go now). Runs of the first lifecycle version cannot go back to the hold:
// they wait as long as the deadline allows and then go.
func (a *Activities) waitForSlot(ctx context.Context, in DispatchInput) (*DispatchResult, error) {
	interval, rate, err := a.senderInterval(ctx, in.PortalID, in.From)
	if err != nil || interval == 0 {
		return nil, err
	}
	now := time.Now()
	slot, err := a.Store.ReserveSlot(ctx, in.MessageID, "sender:"+store.SenderKey(in.From), now, interval)
	if err != nil {
		return nil, err
	}
	wait := slot.Sub(now)
	if wait <= 0 {
		return nil, nil
	}
	limit := a.Config.Sending.PacingMaxWait
	if activity.IsActivity(ctx) {
		if dl := activity.GetInfo(ctx).Deadline; !dl.IsZero() {
			limit = min(limit, time.Until(dl)-a.Config.SendTimeout-pacingMargin)
		}
	}
	if wait > limit && in.Channel != "" {
		until := slot
		countHold(holdPacing, in.Country, until)
		return &DispatchResult{DeferUntil: &until, DeferReason: fmt.Sprintf(
			"paced: its sender sends %g messages a second; its slot is at %s", rate, slot.UTC().Format(time.RFC3339Nano))}, nil
	}
	return nil, sleepHeartbeating(ctx, min(wait, max(limit, 0)))
}

// sleepHeartbeating waits d, heartbeating every few seconds inside an activity, and returns early
// when the worker stops or the context ends.
func sleepHeartbeating(ctx context.Context, d time.Duration) error {
	var stop <-chan struct{}
	if activity.IsActivity(ctx) {
		stop = activity.GetWorkerStopChannel(ctx)
	}
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		t := time.NewTimer(min(left, 5*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-stop:
			t.Stop()
			return nil // the gate refuses the call: the worker is stopping
		case <-t.C:
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, "waiting for the sender's slot")
		}
	}
}

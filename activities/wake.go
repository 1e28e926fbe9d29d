package activities

import (
	"context"
	"fmt"
	"time"

	"smsflow/compliance"
	"smsflow/store"
)

// spreadWake moves a wake-up at wake (a window's opening, a quota's daily reset) by the message's
// offset within Config.Sending.WakeSpread, on the compliance clock, never past the end of the
// window it opens: the messages waking together wake spread over the span, each always at the
// same instant. Without a spread, or where the window cannot be computed, wake itself.
func (a *Activities) spreadWake(wake time.Time, messageID, country string, zones []string, messageType string) time.Time {
	span := a.Config.Sending.WakeSpread
	if span <= 0 || messageID == "" {
		return wake
	}
	category, err := compliance.ParseCategory(messageType)
	if err != nil {
		category = compliance.Transactional // no window to stay in: the whole span
	}
	clock := a.Config.ComplianceClock
	moved, err := rules.Spread(clock.At(wake), messageID, span, compliance.Recipient{Country: country, Timezones: zones}, category)
	if err != nil {
		return wake
	}
	return clock.Real(moved)
}

// heldWake is when a message held until its window's opening wakes: spread over the first
// minutes of the window (spreadWake), and, for a paced sender, not before its slot among the
// messages of that sender held until the same opening, so they wake at the sender's rate
// instead of all waiting in Dispatch. A slot beyond the window's end wakes at the next opening.
// It returns the wake-up and what to add to the hold's reason.
func (a *Activities) heldWake(ctx context.Context, opening time.Time, messageID string, portalID int64, sender, country string,
	zones []string, messageType string) (time.Time, string, error) {
	wake := a.spreadWake(opening, messageID, country, zones, messageType)
	interval, rate, err := a.senderInterval(ctx, portalID, sender)
	if err != nil || interval == 0 || messageID == "" {
		return wake, wakeNote(opening, wake), err
	}
	lane := "opening:" + store.SenderKey(sender) + "@" + opening.UTC().Format(time.RFC3339)
	slot, err := a.Store.ReserveSlot(ctx, messageID, lane, opening, interval)
	if err != nil {
		return time.Time{}, "", err
	}
	if !slot.After(wake) {
		return wake, wakeNote(opening, wake), nil
	}
	note := fmt.Sprintf("; wakes at %s, its slot among the messages of its sender (%g a second) held until this opening",
		slot.UTC().Format(time.RFC3339), rate)
	d, err := a.nextSendTime(slot, country, zones, messageType)
	if err != nil || !d.Held {
		return slot, note, nil
	}
	next := a.spreadWake(d.SendAt, messageID, country, zones, messageType)
	return next, fmt.Sprintf("; its sender's slot (%g a second) falls after the window closes: wakes at the next opening, %s",
		rate, next.UTC().Format(time.RFC3339)), nil
}

// wakeNote says how far the spread moved a wake-up ("" when it did not).
func wakeNote(from, wake time.Time) string {
	if !wake.After(from) {
		return ""
	}
	return fmt.Sprintf("; spread to %s", wake.UTC().Format(time.RFC3339))
}

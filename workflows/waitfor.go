package workflows

import "smsflow/outcome"

// Wait-for values: what the HubSpot action waits for before its workflow goes on.
const (
	WaitNone     = "none"
	WaitDelivery = "delivery"
	WaitClick    = "click"
	WaitReply    = "reply"
)

// waitMet says whether an action waiting for waitFor may complete, given the message's status
// and how many clicks and replies it had: when what it waits for happened, or can no longer
// happen (the message failed, or the recipient unsubscribed before clicking or replying).
func waitMet(waitFor string, status outcome.Status, clicks, replies int) bool {
	if status.Failed() {
		return true
	}
	switch waitFor {
	case WaitDelivery:
		return status.Rank() >= outcome.SMSDelivered.Rank()
	case WaitClick:
		return clicks > 0 || status == outcome.SMSUnsubscribed
	case WaitReply:
		return replies > 0 || status == outcome.SMSUnsubscribed
	}
	return true
}

package workflows

import (
	"testing"

	"smsflow/outcome"
)

func TestWaitMet(t *testing.T) {
	for _, tc := range []struct {
		waitFor         string
		status          outcome.Status
		clicks, replies int
		want            bool
	}{
		{"", outcome.SMSSent, 0, 0, true},
		{WaitNone, outcome.SMSSent, 0, 0, true},
		{WaitDelivery, outcome.SMSSent, 0, 0, false},
		{WaitDelivery, outcome.SMSDelivered, 0, 0, true},
		{WaitDelivery, outcome.SMSNotDelivered, 0, 0, true},
		{WaitDelivery, outcome.SMSClicked, 1, 0, true},
		{WaitDelivery, outcome.Pending, 0, 0, false},
		{WaitClick, outcome.SMSDelivered, 0, 0, false},
		{WaitClick, outcome.SMSDelivered, 1, 0, true},
		{WaitClick, outcome.SMSResponse, 0, 1, false},
		{WaitClick, outcome.SMSUnsubscribed, 0, 0, true},
		{WaitClick, outcome.SMSNotSent, 0, 0, true},
		{WaitReply, outcome.SMSClicked, 1, 0, false},
		{WaitReply, outcome.SMSResponse, 0, 1, true},
		{WaitReply, outcome.SMSUnsubscribed, 0, 0, true},
		{WaitReply, outcome.SMSNotDelivered, 0, 0, true},
	} {
		if got := waitMet(tc.waitFor, tc.status, tc.clicks, tc.replies); got != tc.want {
			t.Errorf("waitMet(%q, %s, clicks %d, replies %d) = %v, want %v", tc.waitFor, tc.status, tc.clicks, tc.replies, got, tc.want)
		}
	}
}

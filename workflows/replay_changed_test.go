package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// changedSendSMS starts like SendSMS would if someone added an unversioned timer first.
func changedSendSMS(ctx workflow.Context, req SMSRequest) (SMSResult, error) {
	if err := workflow.Sleep(ctx, time.Second); err != nil {
		return SMSResult{}, err
	}
	return SendSMS(ctx, req)
}

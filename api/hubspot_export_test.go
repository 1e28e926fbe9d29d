package api

import "time"

// SetWorkflowStartTimeout shortens the start timeout for a test and returns the restore.
func SetWorkflowStartTimeout(d time.Duration) func() {
	old := workflowStartTimeout
	workflowStartTimeout = d
	return func() { workflowStartTimeout = old }
}

// SetExchangeTimeout shortens the OAuth code exchange's time for a test and returns the restore.
func SetExchangeTimeout(d time.Duration) func() {
	old := exchangeTimeout
	exchangeTimeout = d
	return func() { exchangeTimeout = old }
}

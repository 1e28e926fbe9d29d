package api

import "time"

// SetWorkflowStartTimeout shortens the start timeout for a test and returns the restore.
func SetWorkflowStartTimeout(d time.Duration) func() {
	old := workflowStartTimeout
	workflowStartTimeout = d
	return func() { workflowStartTimeout = old }
}

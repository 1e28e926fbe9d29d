package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Execution states of a custom action (hs_execution_state).
const (
	StateSuccess      = "SUCCESS"
	StateFailContinue = "FAIL_CONTINUE"
	StateBlock        = "BLOCK"
)

// OutputState is the output field naming the execution state.
const OutputState = "hs_execution_state"

// Completion completes one blocked action execution with its output fields.
type Completion struct {
	CallbackID string            `json:"callbackId"`
	Outputs    map[string]string `json:"outputFields"`
}

func (c *Client) doneStatuses() []int {
	if c.CallbackDoneStatuses != nil {
		return c.CallbackDoneStatuses
	}
	return []int{http.StatusNotFound, http.StatusConflict, http.StatusGone}
}

func withState(out map[string]string) map[string]string {
	o := make(map[string]string, len(out)+1)
	for k, v := range out {
		o[k] = v
	}
	if o[OutputState] == "" {
		o[OutputState] = StateSuccess
	}
	return o
}

// CompleteCallback completes one blocked execution (SUCCESS unless outputs say FAIL_CONTINUE). A
// callback HubSpot reports as already completed or expired counts as done.
func (c *Client) CompleteCallback(ctx context.Context, portalID int64, callbackID string, outputs map[string]string) error {
	path := c.Paths.Callbacks + "/" + url.PathEscape(callbackID) + "/complete"
	_, err := c.do(ctx, portalID, http.MethodPost, path, nil, map[string]any{"outputFields": withState(outputs)}, nil)
	if hasStatus(err, c.doneStatuses()) {
		c.log().Info("hubspot callback already completed", "portal_id", portalID, "callback_id", callbackID)
		return nil
	}
	return err
}

// CompleteCallbacks completes many executions of one portal, in batches of BatchSize. When a batch
// is refused because one of its callbacks is already done, its callbacks are completed one by one.
func (c *Client) CompleteCallbacks(ctx context.Context, portalID int64, completions []Completion) error {
	size := c.BatchSize
	if size <= 0 {
		size = 100
	}
	for start := 0; start < len(completions); start += size {
		batch := completions[start:min(start+size, len(completions))]
		inputs := make([]Completion, len(batch))
		for i, b := range batch {
			inputs[i] = Completion{CallbackID: b.CallbackID, Outputs: withState(b.Outputs)}
		}
		_, err := c.do(ctx, portalID, http.MethodPost, c.Paths.Callbacks+"/complete", nil, map[string]any{"inputs": inputs}, nil)
		if hasStatus(err, append(c.doneStatuses(), http.StatusBadRequest)) {
			for _, b := range batch {
				if err := c.CompleteCallback(ctx, portalID, b.CallbackID, b.Outputs); err != nil {
					return fmt.Errorf("complete %s one by one: %w", b.CallbackID, err)
				}
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CompleteCallbackBatch completes up to MaxBatchInputs executions of one portal in one call.
// HubSpot refuses the whole batch when one input is bad or already completed (UNCONFIRMED): the
// caller then completes them one by one to learn each one's fate.
func (c *Client) CompleteCallbackBatch(ctx context.Context, portalID int64, completions []Completion) error {
	if err := c.checkBatch(len(completions)); err != nil {
		return err
	}
	inputs := make([]Completion, len(completions))
	for i, b := range completions {
		inputs[i] = Completion{CallbackID: b.CallbackID, Outputs: withState(b.Outputs)}
	}
	_, err := c.do(ctx, portalID, http.MethodPost, c.Paths.Callbacks+"/complete", nil, map[string]any{"inputs": inputs}, nil)
	return err
}

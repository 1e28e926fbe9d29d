package hubspot

import (
	"context"
	"fmt"
	"net/http"
)

// MaxBatchInputs is the most inputs HubSpot takes in one batch call (timeline events, record
// updates).
const MaxBatchInputs = 100

// BatchResult is what one batch call did: the ids of the inputs HubSpot reports written, and the
// inputs it refused. An input in neither list (a refusal without its id) is unknown: write it on
// its own to learn its fate.
type BatchResult struct {
	Written []string
	Errors  []BatchItemError
}

// IDs are the input ids a refused item names in its context (id or ids), when it does.
func (e BatchItemError) IDs() []string {
	var out []string
	for _, key := range []string{"id", "ids"} {
		switch v := e.Context[key].(type) {
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		case string:
			out = append(out, v)
		}
	}
	return out
}

func (c *Client) checkBatch(n int) error {
	if n > MaxBatchInputs {
		return fmt.Errorf("hubspot: %d batch inputs, at most %d", n, MaxBatchInputs)
	}
	return nil
}

// CreateTimelineEventBatch writes up to MaxBatchInputs events in one call. Events that exist
// already (refused as CONFLICT) count as written. A 403 wraps ErrTimelineUnavailable.
func (c *Client) CreateTimelineEventBatch(ctx context.Context, portalID int64, events []TimelineEvent) (BatchResult, error) {
	if err := c.checkBatch(len(events)); err != nil {
		return BatchResult{}, err
	}
	var resp struct {
		Results []struct {
			ID string `json:"id"`
		} `json:"results"`
		Errors []BatchItemError `json:"errors"`
	}
	_, err := c.do(ctx, portalID, http.MethodPost, c.Paths.Timeline+"/events/batch/create", nil, map[string]any{"inputs": events}, &resp)
	if hasStatus(err, []int{http.StatusForbidden}) {
		return BatchResult{}, fmt.Errorf("%w: %w", ErrTimelineUnavailable, err)
	}
	if err != nil {
		return BatchResult{}, err
	}
	var out BatchResult
	for _, r := range resp.Results {
		out.Written = append(out.Written, r.ID)
	}
	for _, e := range resp.Errors {
		if e.Category == "CONFLICT" && len(e.IDs()) > 0 {
			out.Written = append(out.Written, e.IDs()...)
			continue
		}
		out.Errors = append(out.Errors, e)
	}
	return out, nil
}

// RecordUpdate is one record's properties to set.
type RecordUpdate struct {
	ID         string            `json:"id"`
	Properties map[string]string `json:"properties"`
}

// UpdateRecordBatch sets properties of up to MaxBatchInputs records of one type in one call
// (POST {Objects}/{type}/batch/update): 200 when all were written, 207 with the refused ones.
// HubSpot refuses a batch naming a record twice, so the records must be distinct.
func (c *Client) UpdateRecordBatch(ctx context.Context, portalID int64, objectType string, records []RecordUpdate) (BatchResult, error) {
	if err := c.checkBatch(len(records)); err != nil {
		return BatchResult{}, err
	}
	var resp struct {
		Results []struct {
			ID ID `json:"id"`
		} `json:"results"`
		Errors []BatchItemError `json:"errors"`
	}
	path := c.Paths.Objects + "/" + ObjectPath(objectType) + "/batch/update"
	if _, err := c.do(ctx, portalID, http.MethodPost, path, nil, map[string]any{"inputs": records}, &resp); err != nil {
		return BatchResult{}, err
	}
	var out BatchResult
	for _, r := range resp.Results {
		out.Written = append(out.Written, string(r.ID))
	}
	out.Errors = resp.Errors
	return out, nil
}

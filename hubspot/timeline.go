package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrTimelineUnavailable means HubSpot refused a timeline event with 403: the app is not a
// timeline partner, and HubSpot opens timeline events to partner apps only. The portal should
// switch to the note fallback.
var ErrTimelineUnavailable = errors.New("hubspot: timeline events not available to this app")

// TimelineEvent is one event on a record's timeline.
type TimelineEvent struct {
	// ID is ours (EventID), so a retried write does not add a second event.
	ID         string            `json:"id,omitempty"`
	TemplateID string            `json:"eventTemplateId"`
	ObjectID   string            `json:"objectId,omitempty"`
	Email      string            `json:"email,omitempty"`
	Timestamp  *time.Time        `json:"timestamp,omitempty"`
	Tokens     map[string]string `json:"tokens"`
	ExtraData  any               `json:"extraData,omitempty"`
}

// EventID is the timeline event id of a message's status change.
func EventID(messageID, status string) string {
	return "smsflow-" + messageID + "-" + strings.ToLower(status)
}

func (c *Client) duplicateStatuses() []int {
	if c.TimelineDuplicateStatuses != nil {
		return c.TimelineDuplicateStatuses
	}
	return []int{http.StatusConflict}
}

// CreateTimelineEvent writes one event; an event with the same id that already exists counts as
// written. A 403 wraps ErrTimelineUnavailable.
func (c *Client) CreateTimelineEvent(ctx context.Context, portalID int64, ev TimelineEvent) error {
	_, err := c.do(ctx, portalID, http.MethodPost, c.Paths.Timeline+"/events", nil, ev, nil)
	switch {
	case err == nil, hasStatus(err, c.duplicateStatuses()):
		return nil
	case hasStatus(err, []int{http.StatusForbidden}):
		return fmt.Errorf("%w: %w", ErrTimelineUnavailable, err)
	}
	return err
}

// BatchError lists the items of a batch HubSpot refused (207), duplicates left out.
type BatchError struct {
	Errors []BatchItemError
}

// BatchItemError is one refused item.
type BatchItemError struct {
	Category string         `json:"category"`
	Message  string         `json:"message"`
	Context  map[string]any `json:"context"`
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("hubspot: %d batch items refused, first: %s %s", len(e.Errors), e.Errors[0].Category, e.Errors[0].Message)
}

// CreateTimelineEvents writes events in batches; items refused as duplicates (category CONFLICT)
// count as written, any other refused item makes a *BatchError.
func (c *Client) CreateTimelineEvents(ctx context.Context, portalID int64, events []TimelineEvent) error {
	size := c.BatchSize
	if size <= 0 {
		size = 100
	}
	var failed []BatchItemError
	for start := 0; start < len(events); start += size {
		batch := events[start:min(start+size, len(events))]
		var resp struct {
			Errors []BatchItemError `json:"errors"`
		}
		_, err := c.do(ctx, portalID, http.MethodPost, c.Paths.Timeline+"/events/batch/create", nil, map[string]any{"inputs": batch}, &resp)
		if hasStatus(err, []int{http.StatusForbidden}) {
			return fmt.Errorf("%w: %w", ErrTimelineUnavailable, err)
		}
		if err != nil {
			return err
		}
		for _, e := range resp.Errors {
			if e.Category != "CONFLICT" {
				failed = append(failed, e)
			}
		}
	}
	if len(failed) > 0 {
		return &BatchError{Errors: failed}
	}
	return nil
}

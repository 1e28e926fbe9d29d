package activities

import (
	"context"
	"errors"
	"fmt"
	"html"
	"sort"
	"strings"

	"smsflow/hubspot"
)

// HubSpotClient adapts the HubSpot API client to what the lifecycle needs: timeline events with
// the configured template per status, the note fallback, and errors as Temporal retry decisions
// (a disconnected portal stays hubspot.ErrPortalDisconnected in the chain: a business outcome, not a retry).
type HubSpotClient struct {
	C *hubspot.Client
	// Portals records the set-up (properties ready, time zone).
	Portals hubspot.PortalStore
	// Templates maps statuses to timeline event template ids (HUBSPOT_TIMELINE_TEMPLATES); a
	// status without one is written as a note.
	Templates map[string]string
}

func (h HubSpotClient) err(err error) error {
	return hubspot.ActivityError(err)
}

// ReadProperties reads the named properties of a record.
func (h HubSpotClient) ReadProperties(ctx context.Context, portalID int64, objectType, objectID string, names []string) (map[string]string, error) {
	v, err := h.C.GetProperties(ctx, portalID, objectType, objectID, names)
	return v, h.err(err)
}

// AssociatedIDs lists the records of toType associated with a record.
func (h HubSpotClient) AssociatedIDs(ctx context.Context, portalID int64, fromType, fromID, toType string) ([]string, error) {
	ids, err := h.C.Associations(ctx, portalID, fromType, fromID, toType)
	return ids, h.err(err)
}

// UpdateProperties writes properties of a record.
func (h HubSpotClient) UpdateProperties(ctx context.Context, portalID int64, objectType, objectID string, props map[string]string) error {
	return h.err(h.C.UpdateProperties(ctx, portalID, objectType, objectID, props))
}

// RecordEvent writes the timeline event, or a note where the portal is in fallback mode, the
// status has no template, or HubSpot refuses timeline events to the app.
func (h HubSpotClient) RecordEvent(ctx context.Context, portalID int64, fallback bool, ev TimelineEvent) error {
	template := h.Templates[string(ev.Status)]
	if !fallback && template != "" {
		at := ev.At
		err := h.C.CreateTimelineEvent(ctx, portalID, hubspot.TimelineEvent{ID: ev.ID, TemplateID: template,
			ObjectID: ev.ObjectID, Timestamp: &at, Tokens: ev.Tokens})
		if !errors.Is(err, hubspot.ErrTimelineUnavailable) {
			return h.err(err)
		}
	}
	return h.err(h.C.CreateNote(ctx, portalID, hubspot.Note{EventID: ev.ID, ObjectType: ev.ObjectType, ObjectID: ev.ObjectID,
		Body: noteBody(ev), Timestamp: ev.At}))
}

// noteBody is the fallback's readable summary of a status change.
func noteBody(ev TimelineEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<p><strong>SMS %s</strong></p><ul>", html.EscapeString(strings.TrimPrefix(string(ev.Status), "SMS_")))
	keys := make([]string, 0, len(ev.Tokens))
	for k := range ev.Tokens {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ev.Tokens[k] != "" {
			fmt.Fprintf(&b, "<li>%s: %s</li>", html.EscapeString(k), html.EscapeString(ev.Tokens[k]))
		}
	}
	b.WriteString("</ul>")
	return b.String()
}

// CompleteCallback completes a blocked workflow action.
func (h HubSpotClient) CompleteCallback(ctx context.Context, portalID int64, callbackID string, outputs map[string]string) error {
	return h.err(h.C.CompleteCallback(ctx, portalID, callbackID, outputs))
}

// SetUp runs the install's HubSpot side again (properties, time zone).
func (h HubSpotClient) SetUp(ctx context.Context, portalID int64) error {
	return h.err(hubspot.SetUpPortal(ctx, h.C, h.Portals, portalID))
}

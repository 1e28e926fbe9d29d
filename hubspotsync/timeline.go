package hubspotsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"slices"
	"sort"
	"strings"

	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/store"
)

// eventKinds maps statuses to the portal setting that can switch their timeline event off; the
// send event is always written.
var eventKinds = map[outcome.Status]string{
	outcome.SMSDelivered: "delivered", outcome.SMSNotDelivered: "not_delivered", outcome.SMSClicked: "clicked",
	outcome.SMSResponse: "response", outcome.SMSUnsubscribed: "unsubscribed",
}

// errHalted gives back the rows left when the portal stopped.
var errHalted = errors.New("hubspotsync: portal stopped")

// timelineRow is a timeline row with its payload read.
type timelineRow struct {
	row  store.OutboxRow
	item TimelineItem
}

// switchedOff says whether the portal switched off the timeline events of a status.
func (p *pass) switchedOff(status string) bool {
	kind, ok := eventKinds[outcome.Status(status)]
	return ok && slices.Contains(p.settings.DisabledEvents, kind)
}

// useTimeline decides timeline event or note for a row: a timeline event when the portal
// granted the timeline scope (recorded at install and token refresh), is not switched to notes,
// and the status has a template for the row's object type. A 403 on the write is only a safety net.
func (p *pass) useTimeline(objectType, status string) bool {
	return p.settings.TimelineMode != store.TimelineModeFallback && hasScope(p.settings.Scopes, TimelineScope) && p.s.template(objectType, status) != ""
}

// template is the timeline event template of a status on an object type: Templates[status] for
// contacts, Templates["DEALS:"+status] (HUBSPOT_TIMELINE_TEMPLATES deals:SMS_SENT=…) for another
// type. A template belongs to one object type, so a contact's template never writes on a deal.
func (s *Sender) template(objectType, status string) string {
	if t := hubspot.ObjectPath(objectType); t != "contacts" {
		return s.Templates[strings.ToUpper(t)+":"+status]
	}
	return s.Templates[status]
}

// deliverTimeline writes timeline rows: events in batches, notes in batches.
func (p *pass) deliverTimeline(ctx context.Context, rows []store.OutboxRow) {
	var events, notes []timelineRow
	for _, r := range rows {
		var it TimelineItem
		if err := json.Unmarshal(r.Payload, &it); err != nil {
			p.dead[r.ID] = fmt.Errorf("unreadable outbox payload: %w", err)
			continue
		}
		switch {
		case p.switchedOff(it.Status):
			p.done = append(p.done, r.ID)
		case p.useTimeline(r.ObjectType, it.Status):
			events = append(events, timelineRow{r, it})
		default:
			notes = append(notes, timelineRow{r, it})
		}
	}
	for _, chunk := range chunks(events, hubspot.MaxBatchInputs) {
		notes = append(notes, p.writeEvents(ctx, chunk)...)
	}
	for _, chunk := range chunks(notes, hubspot.MaxBatchInputs) {
		p.writeNotes(ctx, chunk)
	}
}

// writeNotes writes up to a batch of notes in one call (and one search for those an earlier try
// may have written); the notes HubSpot's answer leaves unsure are written one by one.
func (p *pass) writeNotes(ctx context.Context, chunk []timelineRow) {
	if p.halted() {
		for _, t := range chunk {
			p.finish(errHalted, t.row)
		}
		return
	}
	notes := make([]hubspot.Note, len(chunk))
	for i, t := range chunk {
		notes[i] = note(t)
	}
	res, err := p.s.HubSpot.CreateNoteBatch(ctx, p.portal, notes)
	if err != nil && !permanent(err) {
		for _, t := range chunk {
			p.finish(err, t.row)
		}
		return
	}
	written, refused := batchOutcomes(res)
	for i, t := range chunk {
		switch {
		case err == nil && written[t.item.ID]:
			p.finish(nil, t.row)
		case err == nil && refused[t.item.ID] != nil:
			p.finish(refused[t.item.ID], t.row)
		case p.halted():
			p.finish(errHalted, t.row)
		default:
			// The whole batch was refused, or the answer does not say: alone, the note gets its
			// own answer (after a search when an earlier try may have written it).
			p.finish(p.s.HubSpot.CreateNote(ctx, p.portal, notes[i]), t.row)
		}
	}
}

// writeEvents writes up to a batch of timeline events in one call; the rows HubSpot's answer
// leaves unsure are written one by one. It returns the rows to write as notes instead: HubSpot
// refused timeline events to the app although the portal's scopes allow them.
func (p *pass) writeEvents(ctx context.Context, chunk []timelineRow) (asNotes []timelineRow) {
	if p.halted() {
		for _, t := range chunk {
			p.finish(errHalted, t.row)
		}
		return nil
	}
	events := make([]hubspot.TimelineEvent, len(chunk))
	for i, t := range chunk {
		events[i] = p.event(t)
	}
	res, err := p.s.HubSpot.CreateTimelineEventBatch(ctx, p.portal, events)
	switch {
	case errors.Is(err, hubspot.ErrTimelineUnavailable):
		p.timelineRefused(ctx, err)
		return chunk
	case err != nil && !permanent(err):
		for _, t := range chunk {
			p.finish(err, t.row)
		}
		return nil
	}
	written, refused := batchOutcomes(res)
	for _, t := range chunk {
		switch {
		case err == nil && written[t.item.ID]:
			p.finish(nil, t.row)
		case err == nil && refused[t.item.ID] != nil:
			p.finish(refused[t.item.ID], t.row)
		case p.halted():
			p.finish(errHalted, t.row)
		default:
			// The whole batch was refused, or the answer does not say: alone, the row gets its
			// own answer, and a bad row no longer holds the others back.
			err := p.s.HubSpot.CreateTimelineEvent(ctx, p.portal, events[indexOf(chunk, t)])
			if errors.Is(err, hubspot.ErrTimelineUnavailable) {
				p.timelineRefused(ctx, err)
				asNotes = append(asNotes, t)
				continue
			}
			p.finish(err, t.row)
		}
	}
	return asNotes
}

func indexOf(chunk []timelineRow, t timelineRow) int {
	for i := range chunk {
		if chunk[i].row.ID == t.row.ID {
			return i
		}
	}
	return -1
}

// timelineRefused switches the portal to notes after HubSpot refused a timeline event (403).
func (p *pass) timelineRefused(ctx context.Context, err error) {
	if p.settings.TimelineMode == store.TimelineModeFallback {
		return
	}
	p.settings.TimelineMode = store.TimelineModeFallback
	p.s.Log.Warn("hubspot refused timeline events although the portal granted the scope; switching it to notes", "portal_id", p.portal, "error", err)
	if err := p.s.Store.SetPortalTimelineMode(ctx, p.portal, store.TimelineModeFallback); err != nil {
		p.s.Log.Warn("portal timeline mode not saved", "portal_id", p.portal, "error", err)
	}
}

// event is the timeline event of a row.
func (p *pass) event(t timelineRow) hubspot.TimelineEvent {
	at := t.item.At
	return hubspot.TimelineEvent{ID: t.item.ID, TemplateID: p.s.template(t.row.ObjectType, t.item.Status), ObjectID: t.row.ObjectID, Timestamp: &at, Tokens: t.item.Tokens}
}

// note is the note of a row, for portals without timeline events.
func note(t timelineRow) hubspot.Note {
	return hubspot.Note{EventID: t.item.ID, ObjectType: t.row.ObjectType, ObjectID: t.row.ObjectID, Body: noteBody(t.item), Timestamp: t.item.At,
		FirstTry: t.row.Attempts == 0 && !t.row.Reclaimed}
}

// noteBody is a note's readable summary of a status change.
func noteBody(it TimelineItem) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<p><strong>SMS %s</strong></p><ul>", html.EscapeString(strings.TrimPrefix(it.Status, "SMS_")))
	keys := make([]string, 0, len(it.Tokens))
	for k := range it.Tokens {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if it.Tokens[k] != "" {
			fmt.Fprintf(&b, "<li>%s: %s</li>", html.EscapeString(k), html.EscapeString(it.Tokens[k]))
		}
	}
	b.WriteString("</ul>")
	return b.String()
}

// batchOutcomes reads a batch call's answer: the ids HubSpot wrote, and the error of each id it
// refused.
func batchOutcomes(res hubspot.BatchResult) (written map[string]bool, refused map[string]error) {
	written, refused = map[string]bool{}, map[string]error{}
	for _, id := range res.Written {
		written[id] = true
	}
	for _, e := range res.Errors {
		for _, id := range e.IDs() {
			refused[id] = &hubspot.BatchError{Errors: []hubspot.BatchItemError{e}}
		}
	}
	return written, refused
}

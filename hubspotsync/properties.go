package hubspotsync

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"smsflow/hubspot"
	"smsflow/store"
)

// recordWrite is the write of one record's properties: every due row of the record collapses
// into it, with the union of the properties they moved and the values of the record's state.
type recordWrite struct {
	key   store.RecordKey
	moved PropertiesItem
	rows  []store.OutboxRow
	props map[string]string
}

// deliverProperties writes properties rows: one update per record, in batches per object type.
func (p *pass) deliverProperties(ctx context.Context, rows []store.OutboxRow) {
	if len(rows) == 0 {
		return
	}
	var records []*recordWrite
	byKey := map[store.RecordKey]*recordWrite{}
	for _, r := range rows {
		var moved PropertiesItem
		if err := json.Unmarshal(r.Payload, &moved); err != nil {
			p.dead[r.ID] = fmt.Errorf("unreadable outbox payload: %w", err)
			continue
		}
		k := store.RecordKey{PortalID: p.portal, ObjectType: r.ObjectType, ObjectID: r.ObjectID}
		w := byKey[k]
		if w == nil {
			w = &recordWrite{key: k}
			byKey[k] = w
			records = append(records, w)
		}
		w.moved.Last = w.moved.Last || moved.Last
		w.moved.OptedOut = w.moved.OptedOut || moved.OptedOut
		w.moved.NumberInvalid = w.moved.NumberInvalid || moved.NumberInvalid
		w.rows = append(w.rows, r)
	}
	keys := make([]store.RecordKey, len(records))
	for i, w := range records {
		keys[i] = w.key
	}
	views, err := p.s.Store.RecordViews(ctx, p.portal, keys)
	if err != nil {
		for _, w := range records {
			p.finish(err, w.rows...)
		}
		return
	}
	byType := map[string][]*recordWrite{}
	for _, w := range records {
		if w.props = Properties(views[w.key], w.moved); len(w.props) == 0 {
			p.finish(nil, w.rows...) // nothing left to say (the record's state was erased)
			continue
		}
		byType[w.key.ObjectType] = append(byType[w.key.ObjectType], w)
	}
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		for _, chunk := range chunks(byType[t], hubspot.MaxBatchInputs) {
			p.writeRecords(ctx, t, chunk)
		}
	}
}

// writeRecords updates up to a batch of records of one type in one call; the records HubSpot's
// answer leaves unsure are written one by one.
func (p *pass) writeRecords(ctx context.Context, objectType string, chunk []*recordWrite) {
	if p.halted() {
		for _, w := range chunk {
			p.finish(errHalted, w.rows...)
		}
		return
	}
	updates := make([]hubspot.RecordUpdate, len(chunk))
	for i, w := range chunk {
		updates[i] = hubspot.RecordUpdate{ID: w.key.ObjectID, Properties: w.props}
	}
	res, err := p.s.HubSpot.UpdateRecordBatch(ctx, p.portal, objectType, updates)
	if err != nil && !permanent(err) {
		for _, w := range chunk {
			p.finish(err, w.rows...)
		}
		return
	}
	written, refused := batchOutcomes(res)
	for _, w := range chunk {
		id := w.key.ObjectID
		switch {
		case err == nil && written[id]:
			p.finish(nil, w.rows...)
		case err == nil && refused[id] != nil:
			p.finish(refused[id], w.rows...)
		case p.halted():
			p.finish(errHalted, w.rows...)
		default:
			// The whole batch was refused (one bad record fails it), or the answer does not
			// say: alone, each record gets its own answer.
			p.finish(p.s.HubSpot.UpdateProperties(ctx, p.portal, objectType, id, w.props), w.rows...)
		}
	}
}

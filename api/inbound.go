package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gin-gonic/gin"

	"smsflow/metrics"
	"smsflow/signalbox"
	"smsflow/store"
)

// The signals a message's workflow gets from outside, at most, per kind. Past them an event is
// stored and counted, not signalled, so that whatever a recipient (or a carrier) does, a message's
// history stays far below Temporal's limits. Non-final reports and link previews are never
// signalled, and of clicks only the first of each link.
const (
	maxReportSignals      = 20
	maxReplySignals       = 20
	maxClickSignals       = 20
	maxUnsubscribeSignals = 1
)

// fastSignalTimeout bounds a webhook's own try to signal, made after it answered: past it the
// sweeper delivers the stored event.
var fastSignalTimeout = 2 * time.Second

// newSignalBox is the API's side of the outbox: the webhooks' fast path.
func newSignalBox(d Deps) *signalbox.Box {
	var tc signalbox.Signaller
	if d.Temporal != nil {
		dc := d.DataConverter
		if dc == nil && d.Config.PayloadKeys != "" {
			if c, err := d.Config.PayloadDataConverter(); err == nil {
				dc = c
			}
		}
		tc = signalbox.ClientSignaller{Client: d.Temporal, Namespace: d.Config.TemporalNamespace, DataConverter: dc}
	}
	return signalbox.New(d.Store, tc, d.Log, signalbox.Options{SignalTimeout: fastSignalTimeout, MarkFor: 3 * time.Second})
}

// signalOf is a signal of name carrying payload (a workflows signal type) as JSON.
func signalOf(name string, payload any) *store.Signal {
	b, err := json.Marshal(payload)
	if err != nil {
		panic("api: signal payload: " + err.Error()) // the signal types are plain structs
	}
	return &store.Signal{Name: name, Payload: b}
}

// signalAfterAnswer counts a newly stored event of kind (delivery, reply, click, unsubscribe),
// sends the answer already written to the client, then delivers the stored event's signal at once
// when this request claimed it. The event is stored whatever happens here: what the fast path
// does not deliver, the sweeper does.
func signalAfterAnswer(c *gin.Context, box *signalbox.Box, kind string, stored store.StoredInbound) {
	if stored.Inserted {
		metrics.InboundStored.WithLabelValues(kind).Inc()
	}
	if stored.Claimed == nil {
		return
	}
	c.Writer.Flush()
	box.Now(context.WithoutCancel(c.Request.Context()), *stored.Claimed)
}

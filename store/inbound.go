package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MessageByCarrierID finds our message id for a carrier's message id: first among dispatch
// attempts (written as soon as the carrier answers), then in the message log.
func (s *Store) MessageByCarrierID(ctx context.Context, carrierName, carrierMessageID string) (string, error) {
	var id string
	err := s.Pool.QueryRow(ctx, `SELECT message_id::text FROM (
		SELECT message_id, 1 AS pref FROM dispatch_attempts WHERE carrier = $1 AND carrier_message_id = $2
		UNION ALL
		SELECT id, 2 FROM messages WHERE carrier = $1 AND carrier_message_id = $2
	) m ORDER BY pref LIMIT 1`, carrierName, carrierMessageID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("store: message of %s/%s: %w", carrierName, carrierMessageID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: message of %s/%s: %w", carrierName, carrierMessageID, err)
	}
	return id, nil
}

// MessageExists reports whether the message log or the dispatch attempts know the id.
func (s *Store) MessageExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1)
		OR EXISTS (SELECT 1 FROM dispatch_attempts WHERE message_id = $1)`, id).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: message %s exists: %w", id, err)
	}
	return ok, nil
}

// How a reply was routed (ReplyRoute.Why); logged, so an operator sees why a reply reached no
// workflow.
const (
	// RouteSender: the latest message to the number sent from the receiving number.
	RouteSender = "sender"
	// RouteOnlyPortal: no receiving number given, and one portal only wrote to the number.
	RouteOnlyPortal = "only_portal"
	// RouteOwner: no message to the number from the receiving number, whose only sender portal is
	// known: the reply belongs to that portal but answers no message.
	RouteOwner = "receiving_number_owner"
	// RouteShared: the receiving number is used by several portals that wrote to the number; the
	// reply is stored for no portal rather than risk another tenant's workflow.
	RouteShared = "shared_number"
	// RouteUnknown: nothing links the reply to a portal.
	RouteUnknown = "unknown"
)

// ReplyRoute is where a reply goes: the message it answers (empty when none) and the portal it
// belongs to (0 when unrouted).
type ReplyRoute struct {
	MessageID string
	PortalID  int64
	Why       string
}

// replyCandidates bounds how many recent messages to the number routing looks at.
const replyCandidates = 100

// ReplyRoute finds what a reply from phone to our number `to` answers. A reply belongs to the
// portal whose message to phone was sent from `to`: the latest such message, also when several
// portals share the number (the person answers the last text they got from it). When
// none came from `to`, the reply answers no message, but belongs to the portal owning `to` if only
// one portal sends from it. Without `to`, a number only one portal wrote to routes to its latest
// message. "Sent" means the message log has a send time or a carrier accepted it. Only SMS are
// answered by an SMS: a call to the number is not a conversation the reply continues.
func (t *Tx) ReplyRoute(ctx context.Context, phone, to string) (ReplyRoute, error) {
	rows, _ := t.tx.Query(ctx, `SELECT m.id::text, m.portal_id, (ltrim(m.sender, '+') = ltrim($2, '+') AND $2 <> '') FROM messages m
	WHERE m.phone = $1 AND m.channel = 'sms' AND (m.sent_at IS NOT NULL OR EXISTS (
		SELECT 1 FROM dispatch_attempts a WHERE a.message_id = m.id AND a.state = 'accepted'))
	ORDER BY coalesce(m.sent_at, m.created_at) DESC LIMIT $3`, phone, to, replyCandidates)
	type candidate struct {
		ID       string
		PortalID int64
		FromTo   bool
	}
	cands, err := pgx.CollectRows(rows, pgx.RowToStructByPos[candidate])
	if err != nil {
		return ReplyRoute{}, fmt.Errorf("store: route reply: %w", err)
	}
	var route ReplyRoute
	portals := map[int64]bool{}
	for _, c := range cands {
		if to == "" || c.FromTo {
			if route.MessageID == "" {
				route = ReplyRoute{MessageID: c.ID, PortalID: c.PortalID}
			}
			portals[c.PortalID] = true
		}
	}
	switch {
	case len(portals) > 1 && to == "":
		return ReplyRoute{Why: RouteShared}, nil // no receiving number to tell the portals apart
	case len(portals) > 1:
		route.Why = RouteSender
		return route, nil
	case len(portals) == 1 && to == "":
		route.Why = RouteOnlyPortal
		return route, nil
	case len(portals) == 1:
		route.Why = RouteSender
		return route, nil
	case to == "":
		return ReplyRoute{Why: RouteUnknown}, nil
	}
	owners, err := t.senderPortals(ctx, to)
	if err != nil {
		return ReplyRoute{}, err
	}
	switch len(owners) {
	case 1:
		return ReplyRoute{PortalID: owners[0], Why: RouteOwner}, nil
	case 0:
		return ReplyRoute{Why: RouteUnknown}, nil
	}
	return ReplyRoute{Why: RouteShared}, nil
}

// senderPortals lists (at most two of) the portals that sent from number.
func (t *Tx) senderPortals(ctx context.Context, number string) ([]int64, error) {
	rows, _ := t.tx.Query(ctx, `SELECT DISTINCT portal_id FROM messages WHERE ltrim(sender, '+') = ltrim($1, '+') LIMIT 2`, number)
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store: portals sending from a number: %w", err)
	}
	return out, nil
}

// Signal is what a stored event owes its message's workflow.
type Signal struct {
	Name    string
	Payload []byte // JSON of the signal's type
}

// Inbound is an event from outside (a carrier report or reply, a click, an unsubscribe) to store
// once, with the signal it owes its workflow.
type Inbound struct {
	Event    Event
	PortalID int64 // 0: unknown
	// Signal is delivered to Event.MessageID's workflow through the outbox; nil: none.
	Signal *Signal
	// SignalCap bounds the signals of Signal.Name a message gets; past it the event is stored
	// without one. 0: no cap.
	SignalCap int
}

// StoredInbound says what AddInbound did.
type StoredInbound struct {
	Seq      int64
	Inserted bool // false: the event was stored before (a carrier's retry)
	Capped   bool // the signal was dropped: the message had SignalCap of its kind already
	// Claimed is the event's signal, claimed for the caller for one lease: deliver it at once
	// after the commit (the sweeper takes it once the lease ends). nil: nothing to deliver now.
	Claimed *PendingSignal
}

// AddInbound stores the event once, with its signal claimed for the caller for lease. An event
// stored before is not stored again; its signal, when still owed and not claimed by anyone, is
// claimed instead, so a carrier's retry delivers what a failed first try left.
func (t *Tx) AddInbound(ctx context.Context, in Inbound, lease time.Duration) (StoredInbound, error) {
	e := in.Event
	detail := e.Detail
	if len(detail) == 0 {
		detail = []byte("{}")
	}
	var portal *int64
	if in.PortalID != 0 {
		portal = &in.PortalID
	}
	var out StoredInbound
	sig := in.Signal
	if e.MessageID == nil {
		sig = nil // no workflow to signal
	}
	if sig != nil && in.SignalCap > 0 {
		var n int
		if err := t.tx.QueryRow(ctx, `SELECT count(*) FROM message_events WHERE message_id = $1 AND signal_name = $2`,
			*e.MessageID, sig.Name).Scan(&n); err != nil {
			return out, fmt.Errorf("store: count signals: %w", err)
		}
		if n >= in.SignalCap {
			sig, out.Capped = nil, true
		}
	}
	var name *string
	var payload []byte
	if sig != nil {
		name, payload = &sig.Name, sig.Payload
	}
	err := t.tx.QueryRow(ctx, `INSERT INTO message_events (message_id, portal_id, source, source_event_id, kind, status, detail,
		occurred_at, signal_name, signal_payload, signal_due_at, signal_claimed_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $9::text IS NULL THEN NULL ELSE now() + $11 * interval '1 millisecond' END,
		CASE WHEN $9::text IS NULL THEN NULL ELSE now() END)
	ON CONFLICT (source, source_event_id) DO NOTHING RETURNING seq`,
		e.MessageID, portal, e.Source, e.SourceEventID, e.Kind, e.Status, detail, e.OccurredAt, name, payload,
		lease.Milliseconds()).Scan(&out.Seq)
	switch {
	case err == nil:
		out.Inserted = true
		if sig != nil {
			out.Claimed = &PendingSignal{Seq: out.Seq, MessageID: *e.MessageID, Name: sig.Name, Payload: sig.Payload}
		}
		return out, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return out, fmt.Errorf("store: add event %s/%s: %w", e.Source, e.SourceEventID, err)
	}
	rows, _ := t.tx.Query(ctx, `UPDATE message_events e SET signal_due_at = now() + $3 * interval '1 millisecond', signal_claimed_at = now()
	WHERE source = $1 AND source_event_id = $2 AND signalled_at IS NULL AND message_id IS NOT NULL AND signal_name IS NOT NULL
	AND signal_due_at <= now()
	RETURNING `+pendingColumns, e.Source, e.SourceEventID, lease.Milliseconds())
	claimed, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[PendingSignal])
	if err != nil {
		return out, fmt.Errorf("store: claim stored event %s/%s: %w", e.Source, e.SourceEventID, err)
	}
	if len(claimed) == 1 {
		out.Seq, out.Claimed = claimed[0].Seq, claimed[0]
	}
	return out, nil
}

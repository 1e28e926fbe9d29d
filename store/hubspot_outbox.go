package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// Kinds of HubSpot outbox rows.
const (
	OutboxTimeline   = "timeline"   // a status change's timeline event, or its note
	OutboxProperties = "properties" // a record's properties, from its hubspot_records state
)

// OutboxItem is one HubSpot write to enqueue.
type OutboxItem struct {
	PortalID   int64
	MessageID  string
	Kind       string
	ObjectType string // as the CRM paths spell it (contacts)
	ObjectID   string
	DedupeKey  string // unique: enqueuing the same key again is a no-op
	Payload    []byte // JSON
}

// OutboxRow is a pending outbox row a sender claimed.
type OutboxRow struct {
	ID         int64
	PortalID   int64
	MessageID  string
	Kind       string
	ObjectType string
	ObjectID   string
	DedupeKey  string
	Payload    []byte
	Attempts   int
	CreatedAt  time.Time
	// Reclaimed: an earlier claim of the row ended without a fate (its sender stopped), so the
	// write may have reached HubSpot.
	Reclaimed bool
}

// Enqueue adds HubSpot writes to the outbox outside a publication (ids already there are skipped).
func (s *Store) Enqueue(ctx context.Context, items ...OutboxItem) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		for _, it := range items {
			if err := enqueue(ctx, tx, it); err != nil {
				return err
			}
		}
		return nil
	})
}

func enqueue(ctx context.Context, db querier, it OutboxItem) error {
	payload := it.Payload
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	_, err := db.Exec(ctx, `INSERT INTO hubspot_outbox (portal_id, message_id, kind, object_type, object_id, dedupe_key, payload)
	VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (dedupe_key) DO NOTHING`,
		it.PortalID, it.MessageID, it.Kind, it.ObjectType, it.ObjectID, it.DedupeKey, payload)
	if err != nil {
		return fmt.Errorf("store: enqueue %s: %w", it.DedupeKey, err)
	}
	return nil
}

// OutboxPortals lists up to limit portals above `after`, in id order, that have due rows and are
// neither paused nor leased at now by another sender than owner (owner's own lease, left when a
// release failed with the database away, must not keep it out until the lease expires). It walks the pending index one portal at a time, so a backlog
// of many rows in few portals costs a few index probes, not a scan.
func (s *Store) OutboxPortals(ctx context.Context, now time.Time, owner string, after int64, limit int) ([]int64, error) {
	rows, _ := s.Pool.Query(ctx, `WITH RECURSIVE p AS (
		(SELECT portal_id FROM hubspot_outbox WHERE done_at IS NULL AND dead_at IS NULL AND portal_id > $3 ORDER BY portal_id LIMIT 1)
		UNION ALL
		SELECT (SELECT o.portal_id FROM hubspot_outbox o WHERE o.done_at IS NULL AND o.dead_at IS NULL AND o.portal_id > p.portal_id
			ORDER BY o.portal_id LIMIT 1) FROM p WHERE p.portal_id IS NOT NULL
	)
	SELECT p.portal_id FROM p LEFT JOIN hubspot_outbox_portals l USING (portal_id)
	WHERE p.portal_id IS NOT NULL AND coalesce(l.paused_until, '-infinity') <= $1
	AND (coalesce(l.lease_until, '-infinity') <= $1 OR l.lease_owner = $4)
	AND EXISTS (SELECT 1 FROM hubspot_outbox o WHERE o.portal_id = p.portal_id AND o.done_at IS NULL AND o.dead_at IS NULL
		AND o.next_attempt_at <= $1)
	LIMIT $2`, now, limit, after, owner)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store: outbox portals: %w", err)
	}
	return ids, nil
}

// LeaseOutboxPortal gives owner the portal's rows until now+ttl, unless another owner's lease
// runs or the portal is paused; the owner of a running lease extends it.
func (s *Store) LeaseOutboxPortal(ctx context.Context, portalID int64, owner string, now time.Time, ttl time.Duration) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `INSERT INTO hubspot_outbox_portals (portal_id, lease_owner, lease_until) VALUES ($1, $2, $4)
	ON CONFLICT (portal_id) DO UPDATE SET lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until
	WHERE hubspot_outbox_portals.paused_until <= $3
	AND (hubspot_outbox_portals.lease_until <= $3 OR hubspot_outbox_portals.lease_owner = $2)`, portalID, owner, now, now.Add(ttl))
	if err != nil {
		return false, fmt.Errorf("store: lease outbox of portal %d: %w", portalID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseOutboxPortal ends owner's lease of the portal.
func (s *Store) ReleaseOutboxPortal(ctx context.Context, portalID int64, owner string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE hubspot_outbox_portals SET lease_until = '-infinity', lease_owner = ''
	WHERE portal_id = $1 AND lease_owner = $2`, portalID, owner)
	if err != nil {
		return fmt.Errorf("store: release outbox of portal %d: %w", portalID, err)
	}
	return nil
}

// PauseOutboxPortal parks the portal's rows until a time (a rate limit); no sender leases it before.
func (s *Store) PauseOutboxPortal(ctx context.Context, portalID int64, until time.Time, reason string) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO hubspot_outbox_portals (portal_id, paused_until, pause_reason) VALUES ($1, $2, $3)
	ON CONFLICT (portal_id) DO UPDATE SET paused_until = EXCLUDED.paused_until, pause_reason = EXCLUDED.pause_reason`, portalID, until, reason)
	if err != nil {
		return fmt.Errorf("store: pause outbox of portal %d: %w", portalID, err)
	}
	return nil
}

// OutboxPause is when a portal's rows may go again, and why they wait.
func (s *Store) OutboxPause(ctx context.Context, portalID int64) (time.Time, string, error) {
	var until time.Time
	var reason string
	err := s.Pool.QueryRow(ctx, `SELECT paused_until, pause_reason FROM hubspot_outbox_portals WHERE portal_id = $1`, portalID).Scan(&until, &reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, "", nil
	}
	return until, reason, err
}

// ClaimOutbox takes up to limit due rows of a portal, oldest due first, for claimID: they are
// pushed to now+lease, so no other sender takes them meanwhile and they come due again if this
// one dies. Rows another transaction is claiming are skipped. The rows come back in id order.
func (s *Store) ClaimOutbox(ctx context.Context, portalID int64, claimID string, now time.Time, lease time.Duration, limit int) ([]OutboxRow, error) {
	rows, _ := s.Pool.Query(ctx, `WITH due AS (
		SELECT id, claim_id IS NOT NULL AS reclaimed FROM hubspot_outbox
		WHERE portal_id = $1 AND done_at IS NULL AND dead_at IS NULL AND next_attempt_at <= $3
		ORDER BY next_attempt_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
	UPDATE hubspot_outbox o SET claim_id = $2, next_attempt_at = $4 FROM due WHERE o.id = due.id
	RETURNING o.id, o.portal_id, o.message_id::text, o.kind, o.object_type, o.object_id, o.dedupe_key, o.payload, o.attempts, o.created_at,
		due.reclaimed`,
		portalID, claimID, now, now.Add(lease), limit)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[OutboxRow])
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox of portal %d: %w", portalID, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// FinishOutbox marks claimed rows delivered.
func (s *Store) FinishOutbox(ctx context.Context, claimID string, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.Pool.Exec(ctx, `UPDATE hubspot_outbox SET done_at = $3, claim_id = NULL, last_error = ''
	WHERE id = ANY($1) AND claim_id = $2`, ids, claimID, now)
	if err != nil {
		return fmt.Errorf("store: finish outbox rows: %w", err)
	}
	return nil
}

// RetryOutbox gives claimed rows back: due at `at`, with the error that stopped them; with
// countAttempt the try counts (a fault of the write, not a pause of the whole portal).
func (s *Store) RetryOutbox(ctx context.Context, claimID string, ids []int64, at time.Time, lastError string, countAttempt bool) error {
	if len(ids) == 0 {
		return nil
	}
	inc := 0
	if countAttempt {
		inc = 1
	}
	_, err := s.Pool.Exec(ctx, `UPDATE hubspot_outbox SET next_attempt_at = $3, last_error = $4, attempts = attempts + $5, claim_id = NULL
	WHERE id = ANY($1) AND claim_id = $2`, ids, claimID, at, lastError, inc)
	if err != nil {
		return fmt.Errorf("store: retry outbox rows: %w", err)
	}
	return nil
}

// KillOutbox marks claimed rows dead: HubSpot refused them for good, or they cannot be written.
func (s *Store) KillOutbox(ctx context.Context, claimID string, ids []int64, now time.Time, reason string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.Pool.Exec(ctx, `UPDATE hubspot_outbox SET dead_at = $3, last_error = $4, claim_id = NULL
	WHERE id = ANY($1) AND claim_id = $2`, ids, claimID, now, reason)
	if err != nil {
		return fmt.Errorf("store: kill outbox rows: %w", err)
	}
	return nil
}

// KillPortalOutbox marks every pending row of a portal dead (the portal disconnected).
func (s *Store) KillPortalOutbox(ctx context.Context, portalID int64, now time.Time, reason string) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE hubspot_outbox SET dead_at = $2, last_error = $3, claim_id = NULL
	WHERE portal_id = $1 AND done_at IS NULL AND dead_at IS NULL`, portalID, now, reason)
	if err != nil {
		return 0, fmt.Errorf("store: kill outbox of portal %d: %w", portalID, err)
	}
	return tag.RowsAffected(), nil
}

// PurgeOutbox deletes up to limit finished rows created before a time.
func (s *Store) PurgeOutbox(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM hubspot_outbox WHERE id IN (
		SELECT id FROM hubspot_outbox WHERE (done_at IS NOT NULL OR dead_at IS NOT NULL) AND created_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("store: purge outbox: %w", err)
	}
	return tag.RowsAffected(), nil
}

// OutboxEntry is an outbox row as an operator or a test sees it.
type OutboxEntry struct {
	OutboxRow
	NextAttemptAt time.Time
	LastError     string
	DoneAt        *time.Time
	DeadAt        *time.Time
}

// OutboxOfMessage lists a message's outbox rows in id order.
func (s *Store) OutboxOfMessage(ctx context.Context, messageID string) ([]OutboxEntry, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, portal_id, message_id::text, kind, object_type, object_id, dedupe_key, payload, attempts, created_at,
	claim_id IS NOT NULL, next_attempt_at, last_error, done_at, dead_at FROM hubspot_outbox WHERE message_id = $1 ORDER BY id`, messageID)
	if err != nil {
		return nil, fmt.Errorf("store: outbox of message %s: %w", messageID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxEntry, error) {
		var e OutboxEntry
		err := r.Scan(&e.ID, &e.PortalID, &e.MessageID, &e.Kind, &e.ObjectType, &e.ObjectID, &e.DedupeKey, &e.Payload, &e.Attempts,
			&e.CreatedAt, &e.Reclaimed, &e.NextAttemptAt, &e.LastError, &e.DoneAt, &e.DeadAt)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: outbox of message %s: %w", messageID, err)
	}
	return out, nil
}

// RecordView is a record's state with what its latest message says (phone, text), for writing
// its properties.
type RecordView struct {
	RecordState
	Phone string
	Text  string
}

// RecordViews reads the state of records of one portal; records without state are absent.
func (s *Store) RecordViews(ctx context.Context, portalID int64, keys []RecordKey) (map[RecordKey]RecordView, error) {
	types := make([]string, len(keys))
	ids := make([]string, len(keys))
	for i, k := range keys {
		types[i], ids[i] = k.ObjectType, k.ObjectID
	}
	rows, err := s.Pool.Query(ctx, `SELECT r.object_type, r.object_id, coalesce(r.last_message_id::text, ''), r.last_message_at, r.last_status,
	r.last_status_at, r.opted_out, r.number_invalid, coalesce(m.phone, ''), coalesce(m.text, '')
	FROM hubspot_records r
	JOIN unnest($2::text[], $3::text[]) AS k(object_type, object_id) ON r.object_type = k.object_type AND r.object_id = k.object_id
	LEFT JOIN messages m ON m.id = r.last_message_id
	WHERE r.portal_id = $1`, portalID, types, ids)
	if err != nil {
		return nil, fmt.Errorf("store: record states: %w", err)
	}
	out := map[RecordKey]RecordView{}
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		k := RecordKey{PortalID: portalID}
		var v RecordView
		err := r.Scan(&k.ObjectType, &k.ObjectID, &v.LastMessageID, &v.LastMessageAt, &v.LastStatus, &v.LastStatusAt, &v.OptedOut,
			&v.NumberInvalid, &v.Phone, &v.Text)
		out[k] = v
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: record states: %w", err)
	}
	return out, nil
}

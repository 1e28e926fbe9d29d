package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPhoneHashKey: purge and erasure keep suppressions as a keyed hash, so they need the key.
var ErrNoPhoneHashKey = errors.New("store: PHONE_HASH_KEY is not set: suppressions cannot be kept as a hash")

// Purged is what one purge batch removed.
type Purged struct {
	Messages           int `json:"Messages"`
	UnroutedEvents     int `json:"UnroutedEvents"`
	ErasedIDs          int `json:"ErasedIDs"`
	HashedSuppressions int `json:"HashedSuppressions"`
	HashedOptChanges   int `json:"HashedOptChanges"`
	// More: a part of the batch was full, so older data may remain.
	More bool `json:"More"`
}

// PurgeBefore removes one batch (at most limit rows of each kind) of message data older than
// cutoff, in one transaction: messages created and last changed before cutoff (but those pending
// for a send_at after it) are counted into
// message_daily_counts, then deleted with their events, links, dispatch attempts, HubSpot writes
// and quota reservations; inbound events that reached no message and erasure marks go by age;
// suppressions and their history older than cutoff stay, with the number replaced by its keyed
// hash. Rows other purges hold are skipped, so purges may run side by side.
func (s *Store) PurgeBefore(ctx context.Context, cutoff time.Time, limit int) (Purged, error) {
	if len(s.PhoneHashKey) == 0 {
		return Purged{}, ErrNoPhoneHashKey
	}
	var p Purged
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// A message still waiting for a send_at inside the retention period may still go: it stays.
		rows, _ := tx.Query(ctx, `SELECT id::text FROM messages WHERE created_at < $1 AND updated_at < $1
		AND NOT (status = 'PENDING' AND send_at > $1)
		ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED`, cutoff, limit)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("old messages: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO message_daily_counts (portal_id, day, channel, status, country, count)
		SELECT portal_id, (created_at AT TIME ZONE 'UTC')::date, channel, status, country, count(*)
		FROM messages WHERE id = ANY($1::uuid[]) GROUP BY 1, 2, 3, 4, 5
		ON CONFLICT (portal_id, day, channel, status, country) DO UPDATE SET count = message_daily_counts.count + EXCLUDED.count`, ids); err != nil {
			return fmt.Errorf("daily counts: %w", err)
		}
		if err := deleteMessages(ctx, tx, ids); err != nil {
			return err
		}
		p.Messages = len(ids)
		tag, err := tx.Exec(ctx, `DELETE FROM message_events WHERE seq IN (SELECT seq FROM message_events
		WHERE message_id IS NULL AND received_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, cutoff, limit)
		if err != nil {
			return fmt.Errorf("unrouted events: %w", err)
		}
		p.UnroutedEvents = int(tag.RowsAffected())
		tag, err = tx.Exec(ctx, `DELETE FROM erased_messages WHERE message_id IN (SELECT message_id FROM erased_messages
		WHERE erased_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, cutoff, limit)
		if err != nil {
			return fmt.Errorf("erasure marks: %w", err)
		}
		p.ErasedIDs = int(tag.RowsAffected())
		p.HashedSuppressions, p.HashedOptChanges, err = hashSuppressions(ctx, tx, s.PhoneHashKey,
			`created_at < $1 AND phone NOT LIKE 'hash:%'`, `at < $1 AND phone NOT LIKE 'hash:%'`, limit, cutoff)
		return err
	})
	if err != nil {
		return Purged{}, fmt.Errorf("store: purge: %w", err)
	}
	p.More = p.Messages == limit || p.UnroutedEvents == limit || p.ErasedIDs == limit ||
		p.HashedSuppressions == limit || p.HashedOptChanges == limit
	return p, nil
}

// deleteMessages deletes messages and every row about them (but the HubSpot record states that
// name one: a record's latest message that is gone reads as none).
func deleteMessages(ctx context.Context, tx pgx.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	for _, q := range []string{
		`DELETE FROM message_events WHERE message_id = ANY($1::uuid[])`,
		`DELETE FROM short_links WHERE message_id = ANY($1::uuid[])`,
		`DELETE FROM dispatch_attempts WHERE message_id = ANY($1::uuid[])`,
		`DELETE FROM voice_calls WHERE call_id = ANY($1::uuid[])`,
		`DELETE FROM hubspot_outbox WHERE message_id = ANY($1::uuid[])`,
		`DELETE FROM quota_reservations WHERE message_id = ANY($1::uuid[])`,
		`DELETE FROM message_templates WHERE message_id = ANY($1::uuid[])`,
		`DELETE FROM pacing_slots WHERE message_id = ANY($1::uuid[])`,
		`DELETE FROM frequency_sends WHERE message_id = ANY($1::uuid[])`,
		`DELETE FROM messages WHERE id = ANY($1::uuid[])`,
	} {
		if _, err := tx.Exec(ctx, q, ids); err != nil {
			return fmt.Errorf("delete messages: %s: %w", q[:strings.Index(q, " WHERE")], err)
		}
	}
	return nil
}

// hashSuppressions replaces the number of at most limit suppressions matching suppWhere, and of
// at most limit history entries matching eventWhere, by its keyed hash. A suppression whose
// hashed form is already on the list merges into it (the older reason stays).
func hashSuppressions(ctx context.Context, tx pgx.Tx, key []byte, suppWhere, eventWhere string, limit int, args ...any) (int, int, error) {
	n := len(args)
	rows, _ := tx.Query(ctx, fmt.Sprintf(`SELECT portal_id, channel, phone FROM suppressions WHERE %s LIMIT $%d FOR UPDATE SKIP LOCKED`,
		suppWhere, n+1), append(args, limit)...)
	type number struct {
		PortalID int64
		Channel  string
		Phone    string
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[number])
	if err != nil {
		return 0, 0, fmt.Errorf("suppressions to hash: %w", err)
	}
	for _, x := range list {
		if _, err := tx.Exec(ctx, `INSERT INTO suppressions (portal_id, channel, phone, reason, message_id, created_at)
		SELECT portal_id, channel, $4, reason, message_id, created_at FROM suppressions WHERE portal_id = $1 AND channel = $2 AND phone = $3
		ON CONFLICT (portal_id, channel, phone) DO NOTHING`, x.PortalID, x.Channel, x.Phone, HashedPhone(key, x.Phone)); err != nil {
			return 0, 0, fmt.Errorf("hash suppression: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM suppressions WHERE portal_id = $1 AND channel = $2 AND phone = $3`,
			x.PortalID, x.Channel, x.Phone); err != nil {
			return 0, 0, fmt.Errorf("hash suppression: %w", err)
		}
	}
	rows, _ = tx.Query(ctx, fmt.Sprintf(`SELECT id, phone FROM suppression_events WHERE %s LIMIT $%d FOR UPDATE SKIP LOCKED`,
		eventWhere, n+1), append(args, limit)...)
	type entry struct {
		ID    int64
		Phone string
	}
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[entry])
	if err != nil {
		return 0, 0, fmt.Errorf("opt changes to hash: %w", err)
	}
	ids := make([]int64, len(entries))
	hashes := make([]string, len(entries))
	for i, e := range entries {
		ids[i], hashes[i] = e.ID, HashedPhone(key, e.Phone)
	}
	if _, err := tx.Exec(ctx, `UPDATE suppression_events e SET phone = v.h FROM unnest($1::bigint[], $2::text[]) AS v(id, h)
	WHERE e.id = v.id`, ids, hashes); err != nil {
		return 0, 0, fmt.Errorf("hash opt changes: %w", err)
	}
	return len(list), len(entries), nil
}

// Erasure names what to erase of one portal: a number's messages (Phone, E.164), and messages
// known by id (those of a deleted record, or of a workflow that has not stored its row yet).
type Erasure struct {
	PortalID   int64
	Phone      string
	MessageIDs []string
}

// Erased is what an erasure removed: the ids of the messages whose rows went (their workflows
// are to be stopped) and the suppressions kept as a hash.
type Erased struct {
	MessageIDs         []string
	WorkflowIDs        []string
	HashedSuppressions int
}

// Erase removes, in one transaction, the messages of e (with their events, links, dispatch
// attempts, HubSpot writes), the portal's inbound events that reached no message but name the
// number, and puts the number's suppressions and opt-out history behind its keyed hash. The
// erased ids are remembered (erased_messages) so that a workflow still running stores nothing
// again and ends saying why.
func (s *Store) Erase(ctx context.Context, e Erasure) (Erased, error) {
	if len(s.PhoneHashKey) == 0 {
		return Erased{}, ErrNoPhoneHashKey
	}
	var out Erased
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id::text, workflow_id FROM messages
		WHERE portal_id = $1 AND (($2 <> '' AND phone = $2) OR id = ANY($3::uuid[])) FOR UPDATE`, e.PortalID, e.Phone, nonNil(e.MessageIDs))
		type row struct{ ID, WorkflowID string }
		found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		seen := map[string]bool{}
		for _, r := range found {
			seen[r.ID] = true
			out.MessageIDs = append(out.MessageIDs, r.ID)
			if r.WorkflowID != "" {
				out.WorkflowIDs = append(out.WorkflowIDs, r.WorkflowID)
			}
		}
		for _, id := range e.MessageIDs {
			if !seen[id] {
				seen[id] = true
				out.MessageIDs = append(out.MessageIDs, id)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO erased_messages (message_id, portal_id) SELECT unnest($1::uuid[]), $2
		ON CONFLICT (message_id) DO NOTHING`, nonNil(out.MessageIDs), e.PortalID); err != nil {
			return fmt.Errorf("erasure marks: %w", err)
		}
		if err := deleteMessages(ctx, tx, out.MessageIDs); err != nil {
			return err
		}
		// The record's state no longer names the erased message (the purge leaves this: a record
		// naming a message that is gone reads as one with no message).
		if _, err := tx.Exec(ctx, `UPDATE hubspot_records SET last_message_id = NULL WHERE portal_id = $1 AND last_message_id = ANY($2::uuid[])`,
			e.PortalID, nonNil(out.MessageIDs)); err != nil {
			return fmt.Errorf("record state: %w", err)
		}
		if e.Phone == "" {
			return nil
		}
		// Unrouted inbound events keep the sender's number in their detail, with or without its '+'.
		if _, err := tx.Exec(ctx, `DELETE FROM message_events WHERE message_id IS NULL AND (portal_id = $1 OR portal_id IS NULL)
		AND strpos(detail::text, $2) > 0`, e.PortalID, strings.TrimPrefix(e.Phone, "+")); err != nil {
			return fmt.Errorf("unrouted events: %w", err)
		}
		out.HashedSuppressions, _, err = hashSuppressions(ctx, tx, s.PhoneHashKey,
			`portal_id = $1 AND phone = $2`, `portal_id = $1 AND phone = $2`, 1_000_000, e.PortalID, e.Phone)
		return err
	})
	if err != nil {
		return Erased{}, fmt.Errorf("store: erase: %w", err)
	}
	return out, nil
}

// RecordNumbers lists the distinct numbers the portal's messages to a record went to (objectType
// as the message log spells it: contact), and the ids of its messages that have no number yet.
func (s *Store) RecordNumbers(ctx context.Context, portalID int64, objectType, objectID string) (phones, unresolved []string, err error) {
	rows, _ := s.Pool.Query(ctx, `SELECT DISTINCT phone FROM messages WHERE portal_id = $1 AND object_type = $2 AND object_id = $3 AND phone <> ''`,
		portalID, objectType, objectID)
	if phones, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, nil, fmt.Errorf("store: record numbers: %w", err)
	}
	rows, _ = s.Pool.Query(ctx, `SELECT id::text FROM messages WHERE portal_id = $1 AND object_type = $2 AND object_id = $3 AND phone = ''`,
		portalID, objectType, objectID)
	if unresolved, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, nil, fmt.Errorf("store: record numbers: %w", err)
	}
	return phones, unresolved, nil
}

// MessageErased reports whether the message's data was erased on request.
func (s *Store) MessageErased(ctx context.Context, messageID string) (bool, error) {
	var erased bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM erased_messages WHERE message_id = $1)`, messageID).Scan(&erased)
	if err != nil {
		return false, fmt.Errorf("store: message erased: %w", err)
	}
	return erased, nil
}

// DailyCount is one row of the counts kept after the purge.
type DailyCount struct {
	PortalID int64
	Day      time.Time
	Channel  string
	Status   string
	Country  string
	Count    int64
}

// DailyCounts lists a portal's counted messages, oldest day first.
func (s *Store) DailyCounts(ctx context.Context, portalID int64) ([]DailyCount, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT portal_id, day, channel, status, country, count FROM message_daily_counts
	WHERE portal_id = $1 ORDER BY day, channel, status, country`, portalID)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DailyCount])
	if err != nil {
		return nil, fmt.Errorf("store: daily counts: %w", err)
	}
	return out, nil
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

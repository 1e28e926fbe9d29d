package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Suppressed reports whether phone opted out of channel for the portal, and why.
func (s *Store) Suppressed(ctx context.Context, portalID int64, channel, phone string) (bool, string, error) {
	var reason string
	err := s.Pool.QueryRow(ctx, `SELECT reason FROM suppressions WHERE portal_id = $1 AND channel = $2 AND phone = $3`,
		portalID, channel, phone).Scan(&reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("store: suppressed: %w", err)
	}
	return true, reason, nil
}

// Suppress puts phone on the portal's suppression list for channel (idempotent; the first reason stays).
func (s *Store) Suppress(ctx context.Context, portalID int64, channel, phone, reason, messageID string) error {
	var msg *string
	if messageID != "" {
		msg = &messageID
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO suppressions (portal_id, channel, phone, reason, message_id)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (portal_id, channel, phone) DO NOTHING`, portalID, channel, phone, reason, msg)
	if err != nil {
		return fmt.Errorf("store: suppress: %w", err)
	}
	return nil
}

// Unsuppress takes phone off the list (START / UNSTOP).
func (s *Store) Unsuppress(ctx context.Context, portalID int64, channel, phone string) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM suppressions WHERE portal_id = $1 AND channel = $2 AND phone = $3`, portalID, channel, phone)
	if err != nil {
		return fmt.Errorf("store: unsuppress: %w", err)
	}
	return nil
}

// Default quotas (SPEC §6 [F37]).
const (
	DefaultQuotaPerDay   = 5000
	DefaultQuotaPerMonth = 10000
)

// QuotaSubject is what a quota counts: a sender number or a sending user.
type QuotaSubject struct {
	Scope   string // sender | user
	Subject string
}

// QuotaDecision is the outcome of ReserveQuota.
type QuotaDecision struct {
	OK       bool
	Scope    string // the quota reached, when !OK
	Subject  string
	Period   string // the day or month reached
	Limit    int
	OnExceed string // reject | defer
}

// ReserveQuota counts the message against every subject's day and month quotas, all or nothing.
// A message counted before (a retried activity) is not counted again.
func (s *Store) ReserveQuota(ctx context.Context, messageID string, portalID int64, subjects []QuotaSubject, now time.Time) (QuotaDecision, error) {
	day, month := now.UTC().Format("2006-01-02"), now.UTC().Format("2006-01")
	var out QuotaDecision
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO quota_reservations (message_id, portal_id, day, month) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING`, messageID, portalID, day, month)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			out.OK = true
			return nil
		}
		for _, sub := range subjects {
			if sub.Subject == "" {
				continue
			}
			perDay, perMonth, onExceed := DefaultQuotaPerDay, DefaultQuotaPerMonth, "reject"
			err := tx.QueryRow(ctx, `SELECT per_day, per_month, on_exceed FROM quota_limits
WHERE portal_id = $1 AND scope = $2 AND subject IN ($3, '*') ORDER BY subject = '*' LIMIT 1`,
				portalID, sub.Scope, sub.Subject).Scan(&perDay, &perMonth, &onExceed)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			for _, p := range []struct {
				period string
				limit  int
			}{{day, perDay}, {month, perMonth}} {
				var used int
				if err := tx.QueryRow(ctx, `INSERT INTO quota_usage (portal_id, scope, subject, period, used) VALUES ($1, $2, $3, $4, 1)
ON CONFLICT (portal_id, scope, subject, period) DO UPDATE SET used = quota_usage.used + 1 RETURNING used`,
					portalID, sub.Scope, sub.Subject, p.period).Scan(&used); err != nil {
					return err
				}
				if used > p.limit {
					out = QuotaDecision{Scope: sub.Scope, Subject: sub.Subject, Period: p.period, Limit: p.limit, OnExceed: onExceed}
					return errQuotaExceeded
				}
			}
		}
		out.OK = true
		return nil
	})
	if errors.Is(err, errQuotaExceeded) {
		return out, nil // rolled back: nothing counted
	}
	if err != nil {
		return QuotaDecision{}, fmt.Errorf("store: reserve quota: %w", err)
	}
	return out, nil
}

var errQuotaExceeded = errors.New("quota exceeded")

// SetQuota sets a portal's limits for a subject ('*' for every subject of the scope).
func (s *Store) SetQuota(ctx context.Context, portalID int64, scope, subject string, perDay, perMonth int, onExceed string) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO quota_limits (portal_id, scope, subject, per_day, per_month, on_exceed)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (portal_id, scope, subject) DO UPDATE
SET per_day = EXCLUDED.per_day, per_month = EXCLUDED.per_month, on_exceed = EXCLUDED.on_exceed`,
		portalID, scope, subject, perDay, perMonth, onExceed)
	return err
}

// Link kinds.
const (
	LinkRedirect    = "link"
	LinkUnsubscribe = "unsubscribe"
)

// ShortLink is a tracked or unsubscribe link of a message.
type ShortLink struct {
	Code      string
	MessageID string
	PortalID  int64
	TargetURL string
	Kind      string
	Clicks    int
}

// CreateShortLink returns the code of the message's link to target, creating it once: the code
// is derived from both, so a retried activity gets the same code.
func (s *Store) CreateShortLink(ctx context.Context, messageID string, portalID int64, kind, target string) (string, error) {
	sum := sha256.Sum256([]byte(messageID + "\x00" + kind + "\x00" + target))
	code := base64.RawURLEncoding.EncodeToString(sum[:])[:10]
	_, err := s.Pool.Exec(ctx, `INSERT INTO short_links (code, message_id, portal_id, target_url, kind) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING`, code, messageID, portalID, target, kind)
	if err != nil {
		return "", fmt.Errorf("store: create short link: %w", err)
	}
	return code, nil
}

// ShortLinkByCode reads a link; with click it also counts one click.
func (s *Store) ShortLinkByCode(ctx context.Context, code string, click bool) (ShortLink, error) {
	q := `SELECT code, message_id::text, portal_id, target_url, kind, clicks FROM short_links WHERE code = $1`
	if click {
		q = `UPDATE short_links SET clicks = clicks + 1, first_click = coalesce(first_click, now()) WHERE code = $1
RETURNING code, message_id::text, portal_id, target_url, kind, clicks`
	}
	rows, _ := s.Pool.Query(ctx, q, code)
	l, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[ShortLink])
	if errors.Is(err, pgx.ErrNoRows) {
		return ShortLink{}, fmt.Errorf("store: short link %q: %w", code, ErrNotFound)
	}
	return l, err
}

// PortalSettings are the per-portal choices the lifecycle reads.
type PortalSettings struct {
	Connected bool
	// PropertiesReady: our properties exist on the portal (the install's set-up finished).
	PropertiesReady bool
	TimelineMode    string // timeline | fallback
	DisabledEvents  []string
	Settings        map[string]any
}

// PortalSettingsOf reads a portal's settings; a portal never seen has the defaults (connected,
// timeline events, everything on, properties not known to be ready).
func (s *Store) PortalSettingsOf(ctx context.Context, portalID int64) (PortalSettings, error) {
	p := PortalSettings{Connected: true, TimelineMode: "timeline", Settings: map[string]any{}}
	var status string
	err := s.Pool.QueryRow(ctx, `SELECT status, timeline_mode, disabled_events, settings, properties_ready_at IS NOT NULL
	FROM portals WHERE portal_id = $1`, portalID).Scan(&status, &p.TimelineMode, &p.DisabledEvents, &p.Settings, &p.PropertiesReady)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return PortalSettings{}, fmt.Errorf("store: portal settings: %w", err)
	}
	p.Connected = status == "connected"
	return p, nil
}

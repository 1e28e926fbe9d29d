package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Portal statuses.
const (
	PortalConnected    = "connected"
	PortalDisconnected = "disconnected"
)

// Timeline modes of a portal: HubSpot timeline events, or properties plus a note.
const (
	TimelineModeTimeline = "timeline"
	TimelineModeFallback = "fallback"
)

// Portal is one HubSpot account that installed the app.
type Portal struct {
	ID                int64
	Status            string
	DisconnectedAt    *time.Time
	TimelineMode      string
	DisabledEvents    []string
	TimeZone          string
	PropertiesReadyAt *time.Time
}

// Portal reads one portal.
func (s *Store) Portal(ctx context.Context, id int64) (Portal, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT portal_id, status, disconnected_at, timeline_mode, disabled_events, time_zone, properties_ready_at
	FROM portals WHERE portal_id = $1`, id)
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Portal])
	if errors.Is(err, pgx.ErrNoRows) {
		return Portal{}, fmt.Errorf("store: portal %d: %w", id, ErrNotFound)
	}
	return p, err
}

// DisconnectPortal marks the portal disconnected (refresh token revoked, app uninstalled); its
// sends end NOT_SENT PORTAL_DISCONNECTED until it installs again. When the portal was connected,
// OnDisconnect is told, so the portal's running messages are stopped at once.
func (s *Store) DisconnectPortal(ctx context.Context, id int64) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE portals SET status = $2, disconnected_at = coalesce(disconnected_at, now()), updated_at = now()
	WHERE portal_id = $1 AND status <> $2`, id, PortalDisconnected)
	if err != nil {
		return fmt.Errorf("store: disconnect portal %d: %w", id, err)
	}
	if tag.RowsAffected() == 1 && s.OnDisconnect != nil {
		s.OnDisconnect(ctx, id)
	}
	return nil
}

// SetPortalTimeZone records the portal's time zone setting.
func (s *Store) SetPortalTimeZone(ctx context.Context, id int64, tz string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE portals SET time_zone = $2, updated_at = now() WHERE portal_id = $1`, id, tz)
	return err
}

// SetPortalTimelineMode switches a portal between timeline events and the note fallback.
func (s *Store) SetPortalTimelineMode(ctx context.Context, id int64, mode string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE portals SET timeline_mode = $2, updated_at = now() WHERE portal_id = $1`, id, mode)
	return err
}

// MarkPropertiesReady records that our properties exist in the portal.
func (s *Store) MarkPropertiesReady(ctx context.Context, id int64) error {
	_, err := s.Pool.Exec(ctx, `UPDATE portals SET properties_ready_at = now(), updated_at = now() WHERE portal_id = $1`, id)
	return err
}

// PortalSettings are the per-portal choices the lifecycle reads.
type PortalSettings struct {
	Connected bool
	// PropertiesReady: our properties exist on the portal (the install's set-up finished).
	PropertiesReady bool
	TimelineMode    string // timeline | fallback
	DisabledEvents  []string
	Settings        map[string]any
	// Scopes are the OAuth scopes the portal granted, as recorded at install and token refresh
	// (empty when unknown, e.g. a private-app token).
	Scopes []string
}

// PortalSettingsOf reads a portal's settings; a portal never seen has the defaults (connected,
// timeline events, everything on, properties not known to be ready).
func (s *Store) PortalSettingsOf(ctx context.Context, portalID int64) (PortalSettings, error) {
	p := PortalSettings{Connected: true, TimelineMode: "timeline", Settings: map[string]any{}}
	var status string
	err := s.Pool.QueryRow(ctx, `SELECT p.status, p.timeline_mode, p.disabled_events, p.settings, p.properties_ready_at IS NOT NULL,
	coalesce(t.scopes, '{}') FROM portals p LEFT JOIN oauth_tokens t USING (portal_id) WHERE p.portal_id = $1`, portalID).
		Scan(&status, &p.TimelineMode, &p.DisabledEvents, &p.Settings, &p.PropertiesReady, &p.Scopes)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return PortalSettings{}, fmt.Errorf("store: portal settings: %w", err)
	}
	p.Connected = status == "connected"
	return p, nil
}

// SetPortalSettings replaces a portal's lifecycle settings (delivery_timeout, listen_after,
// default_wait, max_segments, consent_property, link_hosts: the hosts tracked links may lead to,
// e.g. ["shop.example", "*.brand.example"]), creating the portal's row when it has none.
func (s *Store) SetPortalSettings(ctx context.Context, portalID int64, settings map[string]any) error {
	raw, err := json.Marshal(settings)
	if err != nil {
		return fmt.Errorf("store: portal settings: %w", err)
	}
	_, err = s.Pool.Exec(ctx, `INSERT INTO portals (portal_id, settings) VALUES ($1, $2)
ON CONFLICT (portal_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`, portalID, raw)
	if err != nil {
		return fmt.Errorf("store: set portal settings: %w", err)
	}
	return nil
}

// SetDisabledEvents sets the kinds of timeline event (delivered, not_delivered, clicked,
// response, unsubscribed) the portal switched off.
func (s *Store) SetDisabledEvents(ctx context.Context, id int64, kinds []string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE portals SET disabled_events = $2, updated_at = now() WHERE portal_id = $1`, id, kinds)
	return err
}

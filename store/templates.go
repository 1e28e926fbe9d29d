package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Template is a portal's named message text, at one version.
type Template struct {
	ID        string
	PortalID  int64
	Name      string
	Body      string
	Version   int
	UpdatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Template errors the API maps to statuses.
var (
	// ErrTemplateNameTaken: another live template of the portal has that name (any case).
	ErrTemplateNameTaken = errors.New("store: a template with that name exists")
	// ErrTemplateVersionConflict: the template changed since the version the edit started from.
	ErrTemplateVersionConflict = errors.New("store: the template was changed by someone else")
)

const templateColumns = `id::text, portal_id, name, body, version, updated_by, created_at, updated_at`

// CreateTemplate saves a new template at version 1.
func (s *Store) CreateTemplate(ctx context.Context, portalID int64, name, body, user string) (Template, error) {
	id := uuid.NewString()
	var t Template
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `INSERT INTO templates (id, portal_id, name, body, version, updated_by) VALUES ($1, $2, $3, $4, 1, $5)
RETURNING `+templateColumns, id, portalID, name, body, user)
		var err error
		if t, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Template]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO template_versions (template_id, version, name, body, created_by) VALUES ($1, 1, $2, $3, $4)`,
			id, name, body, user)
		return err
	})
	if err != nil {
		return Template{}, templateError("create", err)
	}
	return t, nil
}

// UpdateTemplate saves a new version of the portal's template. With expectVersion > 0 the edit
// applies only if the template is still at that version (ErrTemplateVersionConflict otherwise),
// so two people editing at once do not overwrite each other unseen.
func (s *Store) UpdateTemplate(ctx context.Context, portalID int64, id, name, body, user string, expectVersion int) (Template, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Template{}, fmt.Errorf("store: template %s: %w", id, ErrNotFound)
	}
	var t Template
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var current int
		err := tx.QueryRow(ctx, `SELECT version FROM templates WHERE id = $1 AND portal_id = $2 AND archived_at IS NULL FOR UPDATE`,
			id, portalID).Scan(&current)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("template %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if expectVersion > 0 && expectVersion != current {
			return ErrTemplateVersionConflict
		}
		rows, _ := tx.Query(ctx, `UPDATE templates SET name = $2, body = $3, version = version + 1, updated_by = $4, updated_at = now()
WHERE id = $1 RETURNING `+templateColumns, id, name, body, user)
		if t, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Template]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO template_versions (template_id, version, name, body, created_by) VALUES ($1, $2, $3, $4, $5)`,
			id, t.Version, name, body, user)
		return err
	})
	if err != nil {
		return Template{}, templateError("update", err)
	}
	return t, nil
}

// ArchiveTemplate deletes the portal's template for its users: it is no longer listed nor
// usable by new messages, while its versions stay for the messages that used them.
func (s *Store) ArchiveTemplate(ctx context.Context, portalID int64, id string) (bool, error) {
	if _, err := uuid.Parse(id); err != nil {
		return false, nil
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE templates SET archived_at = now(), updated_at = now() WHERE id = $1 AND portal_id = $2 AND archived_at IS NULL`,
		id, portalID)
	if err != nil {
		return false, fmt.Errorf("store: archive template: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Templates lists the portal's live templates by name.
func (s *Store) Templates(ctx context.Context, portalID int64) ([]Template, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT `+templateColumns+` FROM templates WHERE portal_id = $1 AND archived_at IS NULL
ORDER BY lower(name), id LIMIT 500`, portalID)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Template])
	if err != nil {
		return nil, fmt.Errorf("store: templates: %w", err)
	}
	return out, nil
}

// GetTemplate reads the portal's live template at its current version.
func (s *Store) GetTemplate(ctx context.Context, portalID int64, id string) (Template, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Template{}, fmt.Errorf("store: template %s: %w", id, ErrNotFound)
	}
	rows, _ := s.Pool.Query(ctx, `SELECT `+templateColumns+` FROM templates WHERE id = $1 AND portal_id = $2 AND archived_at IS NULL`, id, portalID)
	t, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Template])
	if errors.Is(err, pgx.ErrNoRows) {
		return Template{}, fmt.Errorf("store: template %s: %w", id, ErrNotFound)
	}
	return t, err
}

// TemplateVersions lists the versions of the portal's template (archived ones too), newest first.
func (s *Store) TemplateVersions(ctx context.Context, portalID int64, id string) ([]Template, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("store: template %s: %w", id, ErrNotFound)
	}
	rows, _ := s.Pool.Query(ctx, `SELECT v.template_id::text, t.portal_id, v.name, v.body, v.version, v.created_by, t.created_at, v.created_at
FROM template_versions v JOIN templates t ON t.id = v.template_id
WHERE v.template_id = $1 AND t.portal_id = $2 ORDER BY v.version DESC`, id, portalID)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Template])
	if err != nil {
		return nil, fmt.Errorf("store: template versions: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("store: template %s: %w", id, ErrNotFound)
	}
	return out, nil
}

// TemplateForMessage is the template text a message is written from: the version already
// recorded for the message when there is one (a retried request gets what the first got), else
// the template's current version, recorded for the message now. An archived or unknown template
// is ErrNotFound for a message that has none recorded yet.
func (s *Store) TemplateForMessage(ctx context.Context, portalID int64, templateID, messageID string) (Template, error) {
	if _, err := uuid.Parse(templateID); err != nil {
		return Template{}, fmt.Errorf("store: template %s: %w", templateID, ErrNotFound)
	}
	var t Template
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT v.template_id::text, t.portal_id, v.name, v.body, v.version, v.created_by, t.created_at, v.created_at
FROM message_templates m JOIN template_versions v ON v.template_id = m.template_id AND v.version = m.template_version
JOIN templates t ON t.id = v.template_id
WHERE m.message_id = $1 AND m.portal_id = $2 AND m.template_id = $3`, messageID, portalID, templateID)
		var err error
		t, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Template])
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rows, _ = tx.Query(ctx, `SELECT `+templateColumns+` FROM templates WHERE id = $1 AND portal_id = $2 AND archived_at IS NULL`, templateID, portalID)
		if t, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Template]); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("template %s: %w", templateID, ErrNotFound)
		} else if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO message_templates (message_id, portal_id, template_id, template_version) VALUES ($1, $2, $3, $4)
ON CONFLICT (message_id) DO NOTHING`, messageID, portalID, templateID, t.Version)
		return err
	})
	if err != nil {
		return Template{}, templateError("template for message", err)
	}
	return t, nil
}

// MessageTemplate is the template and version a message was written from.
type MessageTemplate struct {
	TemplateID string
	Version    int
}

// MessageTemplates says which template version each of the messages came from (messages written
// as free text are absent).
func (s *Store) MessageTemplates(ctx context.Context, messageIDs []string) (map[string]MessageTemplate, error) {
	out := map[string]MessageTemplate{}
	if len(messageIDs) == 0 {
		return out, nil
	}
	rows, _ := s.Pool.Query(ctx, `SELECT message_id::text, template_id::text, template_version FROM message_templates WHERE message_id = ANY($1::uuid[])`, messageIDs)
	var id, tid string
	var v int
	_, err := pgx.ForEachRow(rows, []any{&id, &tid, &v}, func() error {
		out[id] = MessageTemplate{TemplateID: tid, Version: v}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: message templates: %w", err)
	}
	return out, nil
}

func templateError(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && strings.Contains(pe.ConstraintName, "templates_portal_name") {
		return fmt.Errorf("store: %s template: %w", op, ErrTemplateNameTaken)
	}
	return fmt.Errorf("store: %s template: %w", op, err)
}

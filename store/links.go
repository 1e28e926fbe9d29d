package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

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

package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

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
	Previews  int
	ExpiresAt time.Time
}

// codeBytes is the randomness of a code: 128 bits, 22 base64url characters.
const codeBytes = 16

// newCode returns a random code; the code is a capability, so nothing about it can be derived.
func newCode() string {
	b := make([]byte, codeBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateShortLink returns the code of the message's link of kind to target, creating it once with
// a random code that expires after LinkTTL: a retried activity gets the code made first.
func (s *Store) CreateShortLink(ctx context.Context, messageID string, portalID int64, kind, target string) (string, error) {
	ttl := s.LinkTTL
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	var code string
	err := s.Pool.QueryRow(ctx, `INSERT INTO short_links (code, message_id, portal_id, target_url, kind, expires_at)
VALUES ($1, $2, $3, $4, $5, now() + $6 * interval '1 second')
ON CONFLICT (message_id, kind, target_url) DO UPDATE SET kind = short_links.kind
RETURNING code`, newCode(), messageID, portalID, target, kind, int64(ttl/time.Second)).Scan(&code)
	if err != nil {
		return "", fmt.Errorf("store: create short link: %w", err)
	}
	return code, nil
}

// Visit is what reading a short link counts.
type Visit int

const (
	// VisitNone only reads the link.
	VisitNone Visit = iota
	// VisitClick counts a click (a person followed the link).
	VisitClick
	// VisitPreview counts a preview (a link unfurler or scanner fetched it).
	VisitPreview
)

// ShortLinkByCode reads a link that has not expired and counts visit; an expired or unknown code
// is ErrNotFound.
func (s *Store) ShortLinkByCode(ctx context.Context, code string, visit Visit) (ShortLink, error) {
	return shortLinkByCode(ctx, s.Pool, code, visit)
}

// ShortLinkByCode is Store.ShortLinkByCode in the transaction: the visit is counted with the event
// stored for it, or not at all.
func (t *Tx) ShortLinkByCode(ctx context.Context, code string, visit Visit) (ShortLink, error) {
	return shortLinkByCode(ctx, t.tx, code, visit)
}

func shortLinkByCode(ctx context.Context, db dbtx, code string, visit Visit) (ShortLink, error) {
	const cols = `code, message_id::text, portal_id, target_url, kind, clicks, previews, expires_at`
	q := `SELECT ` + cols + ` FROM short_links WHERE code = $1 AND expires_at > now()`
	switch visit {
	case VisitClick:
		q = `UPDATE short_links SET clicks = clicks + 1, first_click = coalesce(first_click, now())
WHERE code = $1 AND expires_at > now() RETURNING ` + cols
	case VisitPreview:
		q = `UPDATE short_links SET previews = previews + 1 WHERE code = $1 AND expires_at > now() RETURNING ` + cols
	}
	rows, _ := db.Query(ctx, q, code)
	l, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[ShortLink])
	if errors.Is(err, pgx.ErrNoRows) {
		return ShortLink{}, fmt.Errorf("store: short link: %w", ErrNotFound)
	}
	return l, err
}

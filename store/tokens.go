package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Token kinds.
const (
	TokenOAuth      = "oauth"
	TokenPrivateApp = "private_app"
)

// Token is a portal's HubSpot credential, in clear: Tokens encrypts it on the way in and decrypts
// it on the way out, so PostgreSQL only ever holds ciphertexts.
type Token struct {
	PortalID     int64
	Kind         string
	AccessToken  string
	RefreshToken string     // empty for a private-app token
	ExpiresAt    *time.Time // nil for a private-app token
	Scopes       []string
	PortalStatus string // read only: the portal's status
}

// Tokens stores tokens encrypted with AES-256-GCM; each ciphertext is bound to its portal and
// field (additional data), so one cannot be swapped for another.
type Tokens struct {
	s    *Store
	aead cipher.AEAD
}

// ParseTokenKey reads a 32-byte key written in base64 (standard or URL) or hex.
func ParseTokenKey(key string) ([]byte, error) {
	key = strings.TrimSpace(key)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(key); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("store: TOKEN_ENCRYPTION_KEY must be 32 bytes in base64 or hex (e.g. `openssl rand -base64 32`)")
}

// NewTokens returns the token store encrypting with key (see ParseTokenKey).
func NewTokens(s *Store, key string) (*Tokens, error) {
	k, err := ParseTokenKey(key)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Tokens{s: s, aead: aead}, nil
}

func aad(portalID int64, field string) []byte {
	return []byte("smsflow/oauth_tokens/" + strconv.FormatInt(portalID, 10) + "/" + field)
}

func (t *Tokens) seal(portalID int64, field, plain string) []byte {
	if plain == "" && field == "refresh" {
		return nil
	}
	nonce := make([]byte, t.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return t.aead.Seal(nonce, nonce, []byte(plain), aad(portalID, field))
}

func (t *Tokens) open(portalID int64, field string, sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	n := t.aead.NonceSize()
	if len(sealed) < n {
		return "", fmt.Errorf("store: %s token of portal %d: ciphertext too short", field, portalID)
	}
	plain, err := t.aead.Open(nil, sealed[:n], sealed[n:], aad(portalID, field))
	if err != nil {
		return "", fmt.Errorf("store: %s token of portal %d cannot be decrypted (wrong TOKEN_ENCRYPTION_KEY?): %w", field, portalID, err)
	}
	return string(plain), nil
}

// Save stores a portal's token (install or re-install) and marks the portal connected.
func (t *Tokens) Save(ctx context.Context, tok Token) error {
	tx, err := t.s.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO portals (portal_id) VALUES ($1)
	ON CONFLICT (portal_id) DO UPDATE SET status = 'connected', disconnected_at = NULL, updated_at = now()`, tok.PortalID); err != nil {
		return fmt.Errorf("store: save portal %d: %w", tok.PortalID, err)
	}
	if err := t.write(ctx, tx, tok); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (t *Tokens) write(ctx context.Context, tx pgx.Tx, tok Token) error {
	if tok.Kind == "" {
		tok.Kind = TokenOAuth
	}
	scopes := tok.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO oauth_tokens (portal_id, kind, access_token_enc, refresh_token_enc, expires_at, scopes)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (portal_id) DO UPDATE SET kind = EXCLUDED.kind, access_token_enc = EXCLUDED.access_token_enc,
		refresh_token_enc = EXCLUDED.refresh_token_enc, expires_at = EXCLUDED.expires_at, scopes = EXCLUDED.scopes, updated_at = now()`,
		tok.PortalID, tok.Kind, t.seal(tok.PortalID, "access", tok.AccessToken), t.seal(tok.PortalID, "refresh", tok.RefreshToken),
		tok.ExpiresAt, scopes)
	if err != nil {
		return fmt.Errorf("store: save token of portal %d: %w", tok.PortalID, err)
	}
	return nil
}

const selectToken = `SELECT t.portal_id, t.kind, t.access_token_enc, t.refresh_token_enc, t.expires_at, t.scopes, p.status
	FROM oauth_tokens t JOIN portals p USING (portal_id) WHERE t.portal_id = $1`

func (t *Tokens) read(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, portalID int64) (Token, error) {
	var tok Token
	var access, refresh []byte
	err := q.QueryRow(ctx, sql, portalID).Scan(&tok.PortalID, &tok.Kind, &access, &refresh, &tok.ExpiresAt, &tok.Scopes, &tok.PortalStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, fmt.Errorf("store: token of portal %d: %w", portalID, ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("store: token of portal %d: %w", portalID, err)
	}
	if tok.AccessToken, err = t.open(portalID, "access", access); err != nil {
		return Token{}, err
	}
	if tok.RefreshToken, err = t.open(portalID, "refresh", refresh); err != nil {
		return Token{}, err
	}
	return tok, nil
}

// Get reads a portal's token (ErrNotFound when it never installed).
func (t *Tokens) Get(ctx context.Context, portalID int64) (Token, error) {
	return t.read(ctx, t.s.Pool, selectToken, portalID)
}

// Refresh runs fn on the portal's current token with its row locked (FOR UPDATE), and stores what
// fn returns: concurrent refreshes in any process are serialised, and the second one sees the
// token the first stored (fn should return it unchanged when it is still fresh).
func (t *Tokens) Refresh(ctx context.Context, portalID int64, fn func(Token) (Token, error)) (Token, error) {
	tx, err := t.s.Pool.Begin(ctx)
	if err != nil {
		return Token{}, err
	}
	defer tx.Rollback(ctx)
	cur, err := t.read(ctx, tx, selectToken+" FOR UPDATE OF t", portalID)
	if err != nil {
		return Token{}, err
	}
	next, err := fn(cur)
	if err != nil {
		return Token{}, err
	}
	next.PortalID, next.PortalStatus = portalID, cur.PortalStatus
	if next.Kind == "" {
		next.Kind = cur.Kind
	}
	if err := t.write(ctx, tx, next); err != nil {
		return Token{}, err
	}
	return next, tx.Commit(ctx)
}

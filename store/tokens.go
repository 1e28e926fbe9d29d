package store

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
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
// field (additional data), so one cannot be swapped for another. Several keys may be configured
// (newest first): tokens are sealed with the newest and opened with the key whose id is stored
// beside them, so the key can rotate without re-installing any portal (see Reencrypt).
type Tokens struct {
	s    *Store
	keys []tokenKey // newest first
	// ClaimFor is how long a refresh may take before another process may try its own (default
	// 30 s: longer than the token endpoint's timeout).
	ClaimFor time.Duration
}

type tokenKey struct {
	id   string
	aead cipher.AEAD
}

// LegacyKeyID is the id of a key given without one (TOKEN_ENCRYPTION_KEY alone): the key of every
// token stored before keys had ids.
const LegacyKeyID = "0"

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

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
	return nil, errors.New("store: a token encryption key must be 32 bytes in base64 or hex (e.g. `openssl rand -base64 32`)")
}

// NewTokens returns the token store of a keyring: comma-separated keys, newest first, each
// "id:key" or a bare key (id LegacyKeyID); a key is 32 bytes in base64 or hex (ParseTokenKey).
// The same id twice is refused unless both name the same key.
func NewTokens(s *Store, keyring string) (*Tokens, error) {
	t := &Tokens{s: s}
	raw := map[string][]byte{}
	for _, entry := range strings.Split(keyring, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, key, ok := strings.Cut(entry, ":")
		if !ok {
			id, key = LegacyKeyID, entry
		}
		id = strings.TrimSpace(id)
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("store: token key id %q: use letters, digits, _ . or -, at most 32", id)
		}
		k, err := ParseTokenKey(key)
		if err != nil {
			return nil, fmt.Errorf("%w (key id %s)", err, id)
		}
		if prev, seen := raw[id]; seen {
			if !bytes.Equal(prev, k) {
				return nil, fmt.Errorf("store: token key id %s is given twice with different keys", id)
			}
			continue
		}
		raw[id] = k
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		t.keys = append(t.keys, tokenKey{id: id, aead: aead})
	}
	if len(t.keys) == 0 {
		return nil, errors.New("store: no token encryption key (TOKEN_ENCRYPTION_KEY or TOKEN_ENCRYPTION_KEYS)")
	}
	return t, nil
}

// CurrentKeyID is the id of the key new tokens are sealed with.
func (t *Tokens) CurrentKeyID() string { return t.keys[0].id }

func (t *Tokens) key(id string) (cipher.AEAD, bool) {
	for _, k := range t.keys {
		if k.id == id {
			return k.aead, true
		}
	}
	return nil, false
}

func aad(portalID int64, field string) []byte {
	return []byte("smsflow/oauth_tokens/" + strconv.FormatInt(portalID, 10) + "/" + field)
}

// seal encrypts with the newest key.
func (t *Tokens) seal(portalID int64, field, plain string) []byte {
	if plain == "" && field == "refresh" {
		return nil
	}
	aead := t.keys[0].aead
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return aead.Seal(nonce, nonce, []byte(plain), aad(portalID, field))
}

func (t *Tokens) open(portalID int64, field, keyID string, sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	aead, ok := t.key(keyID)
	if !ok {
		return "", fmt.Errorf("store: %s token of portal %d is sealed with key id %q, which is not configured (TOKEN_ENCRYPTION_KEYS)", field, portalID, keyID)
	}
	n := aead.NonceSize()
	if len(sealed) < n {
		return "", fmt.Errorf("store: %s token of portal %d: ciphertext too short", field, portalID)
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], aad(portalID, field))
	if err != nil {
		return "", fmt.Errorf("store: %s token of portal %d cannot be decrypted with key id %q (wrong key?): %w", field, portalID, keyID, err)
	}
	return string(plain), nil
}

// Save stores a portal's token (install or re-install) and marks the portal connected. It
// replaces whatever is stored, a refresh in progress included (its compare-and-swap then fails).
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
	if tok.Kind == "" {
		tok.Kind = TokenOAuth
	}
	_, err = tx.Exec(ctx, `INSERT INTO oauth_tokens (portal_id, kind, access_token_enc, refresh_token_enc, expires_at, scopes, key_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (portal_id) DO UPDATE SET kind = EXCLUDED.kind, access_token_enc = EXCLUDED.access_token_enc,
		refresh_token_enc = EXCLUDED.refresh_token_enc, expires_at = EXCLUDED.expires_at, scopes = EXCLUDED.scopes,
		key_id = EXCLUDED.key_id, version = oauth_tokens.version + 1, refresh_claimed_until = NULL, updated_at = now()`,
		append([]any{tok.PortalID, tok.Kind}, t.sealed(tok)...)...)
	if err != nil {
		return fmt.Errorf("store: save token of portal %d: %w", tok.PortalID, err)
	}
	return tx.Commit(ctx)
}

// sealed is the stored form of tok's secret fields: access, refresh, expiry, scopes, key id.
func (t *Tokens) sealed(tok Token) []any {
	scopes := tok.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return []any{t.seal(tok.PortalID, "access", tok.AccessToken), t.seal(tok.PortalID, "refresh", tok.RefreshToken),
		tok.ExpiresAt, scopes, t.CurrentKeyID()}
}

// writeIf replaces the token only if its row is still at version (compare-and-swap), and ends
// any refresh claim; it reports whether it wrote.
func (t *Tokens) writeIf(ctx context.Context, tok Token, version int64) (bool, error) {
	args := append([]any{tok.PortalID, version, tok.Kind}, t.sealed(tok)...)
	tag, err := t.s.Pool.Exec(ctx, `UPDATE oauth_tokens SET kind = $3, access_token_enc = $4, refresh_token_enc = $5,
	expires_at = $6, scopes = $7, key_id = $8, version = version + 1, refresh_claimed_until = NULL, updated_at = now()
	WHERE portal_id = $1 AND version = $2`, args...)
	if err != nil {
		return false, fmt.Errorf("store: save token of portal %d: %w", tok.PortalID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// storedToken is a token with its row's bookkeeping.
type storedToken struct {
	Token
	keyID        string
	version      int64
	claimedUntil *time.Time
	now          time.Time // the database's clock when read
}

const selectToken = `SELECT t.portal_id, t.kind, t.access_token_enc, t.refresh_token_enc, t.expires_at, t.scopes, p.status,
	t.key_id, t.version, t.refresh_claimed_until, now()
	FROM oauth_tokens t JOIN portals p USING (portal_id) WHERE t.portal_id = $1`

func (t *Tokens) read(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, portalID int64) (storedToken, error) {
	var st storedToken
	var access, refresh []byte
	err := q.QueryRow(ctx, sql, portalID).Scan(&st.PortalID, &st.Kind, &access, &refresh, &st.ExpiresAt, &st.Scopes, &st.PortalStatus,
		&st.keyID, &st.version, &st.claimedUntil, &st.now)
	if errors.Is(err, pgx.ErrNoRows) {
		return storedToken{}, fmt.Errorf("store: token of portal %d: %w", portalID, ErrNotFound)
	}
	if err != nil {
		return storedToken{}, fmt.Errorf("store: token of portal %d: %w", portalID, err)
	}
	if st.AccessToken, err = t.open(portalID, "access", st.keyID, access); err != nil {
		return storedToken{}, err
	}
	if st.RefreshToken, err = t.open(portalID, "refresh", st.keyID, refresh); err != nil {
		return storedToken{}, err
	}
	return st, nil
}

// Get reads a portal's token (ErrNotFound when it never installed).
func (t *Tokens) Get(ctx context.Context, portalID int64) (Token, error) {
	st, err := t.read(ctx, t.s.Pool, selectToken, portalID)
	return st.Token, err
}

// ErrRefreshConflict means the token kept changing under a refresh (see Refresh).
var ErrRefreshConflict = errors.New("store: token changed during every refresh attempt")

// refreshPoll is how often a process waiting for another's refresh reads the token again.
const refreshPoll = 100 * time.Millisecond

// Refresh returns the portal's token, refreshed by refresh when stale says so. No connection and
// no row lock is held while refresh runs (it calls HubSpot): the process claims the refresh for
// ClaimFor in one statement, calls refresh, and stores the result only over the version it read
// (compare-and-swap). Meanwhile other processes wait for the new token rather than refresh too;
// a claim lapses if its process died. When the row changed under the refresh: a re-install (new
// tokens) wins and is returned; a re-encryption (same tokens) is written over.
func (t *Tokens) Refresh(ctx context.Context, portalID int64, stale func(Token) bool, refresh func(context.Context, Token) (Token, error)) (Token, error) {
	claimFor := t.ClaimFor
	if claimFor <= 0 {
		claimFor = 30 * time.Second
	}
	for {
		cur, err := t.read(ctx, t.s.Pool, selectToken, portalID)
		if err != nil {
			return Token{}, err
		}
		if !stale(cur.Token) {
			return cur.Token, nil
		}
		if cur.claimedUntil != nil && cur.claimedUntil.After(cur.now) {
			if err := sleep(ctx, refreshPoll); err != nil { // another process is refreshing
				return Token{}, err
			}
			continue
		}
		tag, err := t.s.Pool.Exec(ctx, `UPDATE oauth_tokens SET refresh_claimed_until = now() + $3 * interval '1 millisecond'
		WHERE portal_id = $1 AND version = $2 AND (refresh_claimed_until IS NULL OR refresh_claimed_until <= now())`,
			portalID, cur.version, claimFor.Milliseconds())
		if err != nil {
			return Token{}, fmt.Errorf("store: claim refresh of portal %d: %w", portalID, err)
		}
		if tag.RowsAffected() == 0 {
			continue // someone else claimed or wrote first: read again
		}
		return t.refreshClaimed(ctx, cur, refresh)
	}
}

// refreshClaimed runs refresh on the token this process claimed and stores its result.
func (t *Tokens) refreshClaimed(ctx context.Context, cur storedToken, refresh func(context.Context, Token) (Token, error)) (Token, error) {
	next, err := refresh(ctx, cur.Token)
	if err != nil {
		// Let the next caller try at once; a fresh context, as ctx may be what ended.
		_, _ = t.s.Pool.Exec(context.WithoutCancel(ctx), `UPDATE oauth_tokens SET refresh_claimed_until = NULL
		WHERE portal_id = $1 AND version = $2`, cur.PortalID, cur.version)
		return Token{}, err
	}
	next.PortalID, next.PortalStatus = cur.PortalID, cur.PortalStatus
	if next.Kind == "" {
		next.Kind = cur.Kind
	}
	version := cur.version
	for range 3 {
		ok, err := t.writeIf(ctx, next, version)
		if err != nil || ok {
			return next, err
		}
		now, err := t.read(ctx, t.s.Pool, selectToken, cur.PortalID)
		if err != nil {
			return Token{}, err
		}
		if now.AccessToken != cur.AccessToken || now.RefreshToken != cur.RefreshToken {
			return now.Token, nil // replaced meanwhile (a re-install): the newer grant wins
		}
		version = now.version // the same tokens re-encrypted: ours are newer
	}
	return Token{}, fmt.Errorf("%w (portal %d)", ErrRefreshConflict, cur.PortalID)
}

// Reencrypt seals every token that is not under the newest key with it, one row at a time (a row
// lock for the few milliseconds of the rewrite; no HubSpot call), and returns how many it
// rewrote. Run it once every process has the new keyring; the old key can go afterwards.
func (t *Tokens) Reencrypt(ctx context.Context) (int, error) {
	rows, _ := t.s.Pool.Query(ctx, `SELECT portal_id FROM oauth_tokens WHERE key_id <> $1 ORDER BY portal_id`, t.CurrentKeyID())
	portals, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("store: re-encrypt: %w", err)
	}
	n := 0
	for _, portalID := range portals {
		err := pgx.BeginFunc(ctx, t.s.Pool, func(tx pgx.Tx) error {
			cur, err := t.read(ctx, tx, selectToken+" FOR UPDATE OF t", portalID)
			if errors.Is(err, ErrNotFound) || err == nil && cur.keyID == t.CurrentKeyID() {
				return nil // uninstalled, or rewritten meanwhile
			}
			if err != nil {
				return err
			}
			args := append([]any{portalID}, t.sealed(cur.Token)...)
			if _, err := tx.Exec(ctx, `UPDATE oauth_tokens SET access_token_enc = $2, refresh_token_enc = $3, expires_at = $4,
			scopes = $5, key_id = $6, version = version + 1 WHERE portal_id = $1`, args...); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("store: re-encrypt token of portal %d: %w", portalID, err)
		}
	}
	return n, nil
}

// CountTokensByKey counts the stored tokens per key id.
func (t *Tokens) CountTokensByKey(ctx context.Context) (map[string]int, error) {
	rows, _ := t.s.Pool.Query(ctx, `SELECT key_id, count(*) FROM oauth_tokens GROUP BY key_id`)
	out := map[string]int{}
	var id string
	var n int
	_, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { out[id] = n; return nil })
	return out, err
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

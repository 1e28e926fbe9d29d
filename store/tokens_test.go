package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"smsflow/internal/testenv"
	"smsflow/store"
)

const testKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 ASCII bytes

func migrated(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseTokenKey(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	for _, k := range []string{testKey, base64.RawURLEncoding.EncodeToString(raw), "3031323334353637383961626364656630313233343536373839616263646566"} {
		if got, err := store.ParseTokenKey(k); err != nil || !bytes.Equal(got, raw) {
			t.Errorf("ParseTokenKey(%q) = %x, %v", k, got, err)
		}
	}
	for _, k := range []string{"", "short", base64.StdEncoding.EncodeToString(raw[:16])} {
		if _, err := store.ParseTokenKey(k); err == nil {
			t.Errorf("ParseTokenKey(%q) accepted", k)
		}
	}
}

func TestTokensAreEncryptedAtRest(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	tokens, err := store.NewTokens(s, testKey)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Microsecond)
	in := store.Token{PortalID: 62515, Kind: store.TokenOAuth, AccessToken: "access-plaintext-secret", RefreshToken: "refresh-plaintext-secret", ExpiresAt: &exp, Scopes: []string{"oauth", "automation"}}
	if err := tokens.Save(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := tokens.Get(ctx, 62515)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != in.AccessToken || got.RefreshToken != in.RefreshToken || !got.ExpiresAt.Equal(exp) || len(got.Scopes) != 2 || got.PortalStatus != store.PortalConnected {
		t.Fatalf("round trip: %+v", got)
	}
	var access, refresh []byte
	if err := s.Pool.QueryRow(ctx, `SELECT access_token_enc, refresh_token_enc FROM oauth_tokens WHERE portal_id = 62515`).Scan(&access, &refresh); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(access, []byte("plaintext")) || bytes.Contains(refresh, []byte("plaintext")) || len(access) <= len(in.AccessToken) {
		t.Fatalf("ciphertext holds the plaintext: %q", access)
	}
	// Bound to its portal: moved to another portal's row, it does not decrypt.
	if _, err := s.Pool.Exec(ctx, `INSERT INTO portals (portal_id) VALUES (7); INSERT INTO oauth_tokens (portal_id, kind, access_token_enc) SELECT 7, kind, access_token_enc FROM oauth_tokens WHERE portal_id = 62515`); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Get(ctx, 7); err == nil {
		t.Fatal("a ciphertext copied to another portal decrypted")
	}
	other, err := store.NewTokens(s, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'k'}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, 62515); err == nil {
		t.Fatal("another key decrypted the token")
	}
	if _, err := tokens.Get(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown portal: %v", err)
	}
}

func TestRefreshUnderLockAndDisconnect(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	tokens, _ := store.NewTokens(s, testKey)
	if err := tokens.Save(ctx, store.Token{PortalID: 1, AccessToken: "a1", RefreshToken: "r1"}); err != nil {
		t.Fatal(err)
	}
	got, err := tokens.Refresh(ctx, 1, func(cur store.Token) (store.Token, error) {
		if cur.AccessToken != "a1" {
			t.Errorf("current = %+v", cur)
		}
		return store.Token{AccessToken: "a2", RefreshToken: cur.RefreshToken}, nil
	})
	if err != nil || got.AccessToken != "a2" || got.Kind != store.TokenOAuth {
		t.Fatalf("Refresh = %+v, %v", got, err)
	}
	boom := errors.New("refused")
	if _, err := tokens.Refresh(ctx, 1, func(store.Token) (store.Token, error) { return store.Token{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed refresh: %v", err)
	}
	if cur, _ := tokens.Get(ctx, 1); cur.AccessToken != "a2" {
		t.Fatalf("a failed refresh changed the token: %+v", cur)
	}
	if err := s.DisconnectPortal(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p, err := s.Portal(ctx, 1)
	if err != nil || p.Status != store.PortalDisconnected || p.DisconnectedAt == nil {
		t.Fatalf("portal = %+v, %v", p, err)
	}
	if err := tokens.Save(ctx, store.Token{PortalID: 1, AccessToken: "a3", RefreshToken: "r3"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Portal(ctx, 1); p.Status != store.PortalConnected || p.DisconnectedAt != nil {
		t.Fatalf("re-install did not reconnect: %+v", p)
	}
	if err := s.SetPortalTimeZone(ctx, 1, "Europe/Paris"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPropertiesReady(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Portal(ctx, 1); p.TimeZone != "Europe/Paris" || p.PropertiesReadyAt == nil || p.TimelineMode != store.TimelineModeTimeline {
		t.Fatalf("portal = %+v", p)
	}
}

package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	if _, err := s.Pool.Exec(ctx, `INSERT INTO portals (portal_id) VALUES (7); INSERT INTO oauth_tokens (portal_id, kind, access_token_enc, key_id) SELECT 7, kind, access_token_enc, key_id FROM oauth_tokens WHERE portal_id = 62515`); err != nil {
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

func always(store.Token) bool { return true }

func TestRefreshAndDisconnect(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	tokens, _ := store.NewTokens(s, testKey)
	if err := tokens.Save(ctx, store.Token{PortalID: 1, AccessToken: "a1", RefreshToken: "r1"}); err != nil {
		t.Fatal(err)
	}
	got, err := tokens.Refresh(ctx, 1, always, func(_ context.Context, cur store.Token) (store.Token, error) {
		if cur.AccessToken != "a1" {
			t.Errorf("current = %+v", cur)
		}
		return store.Token{AccessToken: "a2", RefreshToken: cur.RefreshToken}, nil
	})
	if err != nil || got.AccessToken != "a2" || got.Kind != store.TokenOAuth {
		t.Fatalf("Refresh = %+v, %v", got, err)
	}
	// Not stale: refresh is not called.
	got, err = tokens.Refresh(ctx, 1, func(store.Token) bool { return false }, func(context.Context, store.Token) (store.Token, error) {
		t.Error("refresh called for a fresh token")
		return store.Token{}, nil
	})
	if err != nil || got.AccessToken != "a2" {
		t.Fatalf("fresh Refresh = %+v, %v", got, err)
	}
	boom := errors.New("refused")
	if _, err := tokens.Refresh(ctx, 1, always, func(context.Context, store.Token) (store.Token, error) { return store.Token{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed refresh: %v", err)
	}
	// A failed refresh leaves no claim behind: the next one runs at once.
	done := make(chan error, 1)
	go func() {
		_, err := tokens.Refresh(ctx, 1, func(tok store.Token) bool { return tok.AccessToken == "a2" },
			func(context.Context, store.Token) (store.Token, error) { return store.Token{}, boom })
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Fatalf("second failed refresh: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a failed refresh left its claim: the next refresh waited")
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

// While HubSpot answers a refresh, the process holds no pooled connection and no row lock: with a
// pool of one connection, a query still runs, and another session can lock the row.
func TestRefreshHoldsNoConnectionOrLockDuringTheCall(t *testing.T) {
	url := testenv.Database(t)
	ctx := context.Background()
	one, err := store.OpenWithPoolSize(ctx, url, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if one.Pool.Config().MaxConns != 1 {
		t.Fatalf("pool size %d, want 1", one.Pool.Config().MaxConns)
	}
	if _, err := one.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	other := open(t, url)
	tokens, _ := store.NewTokens(one, testKey)
	if err := tokens.Save(ctx, store.Token{PortalID: 1, AccessToken: "a1", RefreshToken: "r1"}); err != nil {
		t.Fatal(err)
	}
	got, err := tokens.Refresh(ctx, 1, always, func(context.Context, store.Token) (store.Token, error) {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if _, err := one.Pool.Exec(qctx, "SELECT 1"); err != nil {
			t.Errorf("the pool's only connection is held during the HubSpot call: %v", err)
		}
		tx, err := other.Pool.Begin(qctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(qctx)
		if _, err := tx.Exec(qctx, "SELECT 1 FROM oauth_tokens WHERE portal_id = 1 FOR UPDATE NOWAIT"); err != nil {
			t.Errorf("the token's row is locked during the HubSpot call: %v", err)
		}
		return store.Token{AccessToken: "a2", RefreshToken: "r1"}, nil
	})
	if err != nil || got.AccessToken != "a2" {
		t.Fatalf("Refresh = %+v, %v", got, err)
	}
}

// Two processes refreshing one stale token: one calls HubSpot, the other waits and gets its token.
func TestRefreshOncePerPortalAcrossProcesses(t *testing.T) {
	url := testenv.Database(t)
	ctx := context.Background()
	a := open(t, url)
	if _, err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := open(t, url)
	ta, _ := store.NewTokens(a, testKey)
	tb, _ := store.NewTokens(b, testKey)
	if err := ta.Save(ctx, store.Token{PortalID: 1, AccessToken: "old", RefreshToken: "r"}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	stale := func(tok store.Token) bool { return tok.AccessToken == "old" }
	refresh := func(context.Context, store.Token) (store.Token, error) {
		n := calls.Add(1)
		time.Sleep(300 * time.Millisecond) // HubSpot taking its time
		return store.Token{AccessToken: "new-" + strconv.Itoa(int(n)), RefreshToken: "r"}, nil
	}
	var wg sync.WaitGroup
	got := make([]store.Token, 6)
	errs := make([]error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tokens := ta
			if i%2 == 1 {
				tokens = tb
			}
			got[i], errs[i] = tokens.Refresh(ctx, 1, stale, refresh)
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i].AccessToken != "new-1" {
			t.Errorf("caller %d: %+v, %v", i, got[i], errs[i])
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("HubSpot was asked %d times, want once", n)
	}
}

// A re-install while a refresh waits for HubSpot wins: the refresh does not overwrite it.
// A re-encryption meanwhile does not lose the refreshed token.
func TestRefreshCompareAndSwap(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	tokens, _ := store.NewTokens(s, testKey)
	if err := tokens.Save(ctx, store.Token{PortalID: 1, AccessToken: "a1", RefreshToken: "r1"}); err != nil {
		t.Fatal(err)
	}
	got, err := tokens.Refresh(ctx, 1, always, func(context.Context, store.Token) (store.Token, error) {
		if err := tokens.Save(ctx, store.Token{PortalID: 1, AccessToken: "installed", RefreshToken: "r2"}); err != nil {
			t.Fatal(err)
		}
		return store.Token{AccessToken: "refreshed", RefreshToken: "r1"}, nil
	})
	if err != nil || got.AccessToken != "installed" {
		t.Fatalf("Refresh during a re-install = %+v, %v; want the installed token", got, err)
	}
	if cur, _ := tokens.Get(ctx, 1); cur.AccessToken != "installed" || cur.RefreshToken != "r2" {
		t.Fatalf("stored %+v, want the re-install", cur)
	}

	newKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'n'}, 32))
	// Two processes with the new keyring: one refreshes while the other re-encrypts.
	rotated, err := store.NewTokens(s, "k2:"+newKey+",0:"+testKey)
	if err != nil {
		t.Fatal(err)
	}
	reencrypting, _ := store.NewTokens(s, "k2:"+newKey+",0:"+testKey)
	got, err = rotated.Refresh(ctx, 1, always, func(context.Context, store.Token) (store.Token, error) {
		if n, err := reencrypting.Reencrypt(ctx); err != nil || n != 1 {
			t.Fatalf("Reencrypt = %d, %v", n, err)
		}
		return store.Token{AccessToken: "refreshed", RefreshToken: "r2"}, nil
	})
	if err != nil || got.AccessToken != "refreshed" {
		t.Fatalf("Refresh during a re-encryption = %+v, %v", got, err)
	}
	if cur, err := rotated.Get(ctx, 1); err != nil || cur.AccessToken != "refreshed" {
		t.Fatalf("stored %+v, %v; want the refreshed token", cur, err)
	}
}

// Keys rotate: tokens sealed under the old key stay readable by id, Reencrypt moves them all to
// the newest key, after which the old key can go.
func TestTokenKeyRotation(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	old, err := store.NewTokens(s, testKey) // TOKEN_ENCRYPTION_KEY alone: id 0
	if err != nil || old.CurrentKeyID() != store.LegacyKeyID {
		t.Fatalf("NewTokens = %v, key id %q", err, old.CurrentKeyID())
	}
	for _, p := range []int64{1, 2, 3} {
		if err := old.Save(ctx, store.Token{PortalID: p, AccessToken: "a" + strconv.Itoa(int(p)), RefreshToken: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	newKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'n'}, 32))
	both, err := store.NewTokens(s, "2026b:"+newKey+", 0:"+testKey)
	if err != nil || both.CurrentKeyID() != "2026b" {
		t.Fatalf("NewTokens(both) = %v, key id %q", err, both.CurrentKeyID())
	}
	if tok, err := both.Get(ctx, 2); err != nil || tok.AccessToken != "a2" {
		t.Fatalf("old token through the new keyring: %+v, %v", tok, err)
	}
	// A token saved now is sealed with the newest key.
	if err := both.Save(ctx, store.Token{PortalID: 4, AccessToken: "a4"}); err != nil {
		t.Fatal(err)
	}
	if counts, _ := both.CountTokensByKey(ctx); counts["0"] != 3 || counts["2026b"] != 1 {
		t.Fatalf("tokens by key %v", counts)
	}
	if _, err := old.Get(ctx, 4); err == nil || !strings.Contains(err.Error(), `key id "2026b"`) {
		t.Fatalf("a token under an unknown key id: %v", err)
	}
	n, err := both.Reencrypt(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Reencrypt = %d, %v; want 3", n, err)
	}
	if n, err := both.Reencrypt(ctx); err != nil || n != 0 {
		t.Fatalf("second Reencrypt = %d, %v; want 0", n, err)
	}
	onlyNew, err := store.NewTokens(s, "2026b:"+newKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int64{1, 2, 3, 4} {
		if tok, err := onlyNew.Get(ctx, p); err != nil || tok.AccessToken != "a"+strconv.Itoa(int(p)) {
			t.Fatalf("portal %d after re-encryption: %+v, %v", p, tok, err)
		}
	}
	if _, err := old.Get(ctx, 1); err == nil {
		t.Fatal("the retired key still opens a re-encrypted token")
	}
}

func TestNewTokensKeyrings(t *testing.T) {
	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'o'}, 32))
	for _, tc := range []struct {
		keyring string
		ok      bool
		current string
	}{
		{testKey, true, "0"},
		{"1:" + other + ",0:" + testKey, true, "1"},
		{"1:" + other + ",0:" + testKey + ",0:" + testKey, true, "1"}, // the same key twice is one
		{"1:" + other + ",1:" + testKey, false, ""},
		{"bad id:" + testKey, false, ""},
		{"1:short", false, ""},
		{"", false, ""},
		{" , ", false, ""},
	} {
		tok, err := store.NewTokens(nil, tc.keyring)
		if (err == nil) != tc.ok || err == nil && tok.CurrentKeyID() != tc.current {
			t.Errorf("NewTokens(%q) = %v", tc.keyring, err)
		}
		if err != nil && strings.Contains(err.Error(), testKey) {
			t.Errorf("the error shows a key: %v", err)
		}
	}
}

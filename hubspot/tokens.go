package hubspot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"smsflow/store"
)

// TokenStore is where the manager keeps tokens (store.Tokens: encrypted in PostgreSQL).
type TokenStore interface {
	Get(ctx context.Context, portalID int64) (store.Token, error)
	// Refresh returns the token, replaced by refresh(ctx, current) when stale(current) says so;
	// one refresh per portal at a time across processes, and nothing of the database held while
	// refresh calls HubSpot.
	Refresh(ctx context.Context, portalID int64, stale func(store.Token) bool, refresh func(context.Context, store.Token) (store.Token, error)) (store.Token, error)
}

// Disconnector marks a portal disconnected (store.Store).
type Disconnector interface {
	DisconnectPortal(ctx context.Context, portalID int64) error
}

// TokenManager is the TokenSource of installed portals: it hands out cached access tokens,
// refreshes them RefreshAhead before they expire (one refresh per portal at a time: single-flight
// in the process, a claim in the token's row across processes, no connection held while HubSpot
// answers), and turns a revoked refresh token into a
// disconnected portal and ErrPortalDisconnected.
type TokenManager struct {
	Store        TokenStore
	Portals      Disconnector
	OAuth        *OAuth
	RefreshAhead time.Duration // default 5 minutes
	Now          func() time.Time

	group singleflight.Group
	mu    sync.Mutex
	cache map[int64]cachedToken
	stale map[int64]string // tokens that got a 401: refresh even if unexpired
}

type cachedToken struct {
	token    string
	validTil time.Time
}

// privateAppCache is how long a private-app token (no expiry) is cached, so a disconnect is seen.
const privateAppCache = 5 * time.Minute

func (m *TokenManager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *TokenManager) ahead() time.Duration {
	if m.RefreshAhead > 0 {
		return m.RefreshAhead
	}
	return 5 * time.Minute
}

// AccessToken returns a usable access token for the portal.
func (m *TokenManager) AccessToken(ctx context.Context, portalID int64) (string, error) {
	m.mu.Lock()
	c, ok := m.cache[portalID]
	m.mu.Unlock()
	if ok && m.now().Before(c.validTil) {
		return c.token, nil
	}
	v, err, _ := m.group.Do(strconv.FormatInt(portalID, 10), func() (any, error) { return m.load(ctx, portalID) })
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// Invalidate forgets a token that got a 401, so the next AccessToken refreshes it.
func (m *TokenManager) Invalidate(portalID int64, token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cache, portalID)
	if m.stale == nil {
		m.stale = map[int64]string{}
	}
	m.stale[portalID] = token
}

func (m *TokenManager) remember(portalID int64, token string, validTil time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cache == nil {
		m.cache = map[int64]cachedToken{}
	}
	m.cache[portalID] = cachedToken{token: token, validTil: validTil}
}

func (m *TokenManager) needsRefresh(t store.Token) bool {
	m.mu.Lock()
	stale := m.stale[t.PortalID]
	m.mu.Unlock()
	if t.Kind == store.TokenPrivateApp {
		return false
	}
	return t.ExpiresAt == nil || !m.now().Add(m.ahead()).Before(*t.ExpiresAt) || stale == t.AccessToken
}

func (m *TokenManager) load(ctx context.Context, portalID int64) (string, error) {
	t, err := m.Store.Get(ctx, portalID)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w %d", ErrNoToken, portalID)
	}
	if err != nil {
		return "", &TemporaryError{Err: err}
	}
	if t.PortalStatus == store.PortalDisconnected {
		return "", fmt.Errorf("%w: portal %d", ErrPortalDisconnected, portalID)
	}
	if t.Kind == store.TokenPrivateApp {
		m.remember(portalID, t.AccessToken, m.now().Add(privateAppCache))
		return t.AccessToken, nil
	}
	if !m.needsRefresh(t) {
		m.remember(portalID, t.AccessToken, t.ExpiresAt.Add(-m.ahead()))
		return t.AccessToken, nil
	}
	t, err = m.Store.Refresh(ctx, portalID, m.needsRefresh, func(ctx context.Context, cur store.Token) (store.Token, error) {
		if cur.RefreshToken == "" {
			return store.Token{}, fmt.Errorf("%w: portal %d has no refresh token", ErrRefreshRevoked, portalID)
		}
		nt, err := m.OAuth.Refresh(ctx, cur.RefreshToken)
		if err != nil {
			return store.Token{}, err
		}
		exp := m.now().Add(nt.ExpiresIn)
		refresh := nt.RefreshToken
		if refresh == "" {
			refresh = cur.RefreshToken
		}
		scopes := nt.Scopes
		if len(scopes) == 0 {
			// HubSpot's refresh answer may not list the scopes: the token's info does. A portal
			// installed before the scopes were recorded gets them here; on failure the recorded
			// ones stay.
			if info, err := m.OAuth.TokenInfo(ctx, nt.AccessToken); err == nil && len(info.Scopes) > 0 {
				scopes = info.Scopes
			} else {
				scopes = cur.Scopes
			}
		}
		return store.Token{Kind: store.TokenOAuth, AccessToken: nt.AccessToken, RefreshToken: refresh, ExpiresAt: &exp, Scopes: scopes}, nil
	})
	if errors.Is(err, ErrRefreshRevoked) {
		if derr := m.Portals.DisconnectPortal(ctx, portalID); derr != nil {
			return "", &TemporaryError{Err: derr}
		}
		return "", fmt.Errorf("%w: portal %d: %w", ErrPortalDisconnected, portalID, err)
	}
	if err != nil {
		var rl *RateLimitedError
		if errors.As(err, &rl) || errors.As(err, new(*TemporaryError)) {
			return "", err
		}
		return "", &TemporaryError{Err: err}
	}
	m.mu.Lock()
	delete(m.stale, portalID)
	m.mu.Unlock()
	m.remember(portalID, t.AccessToken, t.ExpiresAt.Add(-m.ahead()))
	return t.AccessToken, nil
}

// StaticTokens is a TokenSource of fixed tokens per portal (tests, scripts).
type StaticTokens map[int64]string

// AccessToken returns the portal's token or ErrNoToken.
func (s StaticTokens) AccessToken(_ context.Context, portalID int64) (string, error) {
	if t, ok := s[portalID]; ok {
		return t, nil
	}
	return "", fmt.Errorf("%w %d", ErrNoToken, portalID)
}

// Invalidate does nothing: static tokens cannot be refreshed.
func (StaticTokens) Invalidate(int64, string) {}

// Package store is smsflow's PostgreSQL store: a pgx pool and the schema migrations embedded in
// the binary. The queries of each concern live beside it in this package.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// querier is what a query needs: the pool, or a transaction when several writes go together.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DefaultLinkTTL is how long a short or unsubscribe link answers when LinkTTL is not set.
const DefaultLinkTTL = 400 * 24 * time.Hour

// Store wraps the connection pool.
type Store struct {
	Pool *pgxpool.Pool
	// LinkTTL is how long a link made by CreateShortLink answers (LINK_TTL).
	LinkTTL time.Duration
	// PhoneHashKey keys the hash a suppression keeps of its number once the number's messages are
	// purged or erased (PHONE_HASH_KEY, the SmsPhoneHash key). Without it, only suppressions in
	// clear are matched, and purge and erasure refuse to run.
	PhoneHashKey []byte
	// OnDisconnect, when set, is called after DisconnectPortal disconnected a connected portal
	// (the worker and the API cancel the portal's running message workflows there). It must not
	// block for long: the token refresh that found the portal revoked waits for it.
	OnDisconnect func(ctx context.Context, portalID int64)
}

// Open creates a pool. It does not wait for the server: a process may start while PostgreSQL is
// down and become ready later (see Ping). The pool's size is pool_max_conns of the URL, else
// pgx's default (the larger of 4 and the number of CPUs); OpenWithPoolSize sets it.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	return OpenWithPoolSize(ctx, databaseURL, 0)
}

// OpenWithPoolSize is Open with a pool of at most maxConns connections (DATABASE_MAX_CONNS);
// 0 keeps Open's size.
func OpenWithPoolSize(ctx context.Context, databaseURL string, maxConns int32) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: parse DATABASE_URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
		if cfg.MinConns > maxConns {
			cfg.MinConns = maxConns
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: create pool: %w", err)
	}
	return &Store{Pool: pool, LinkTTL: DefaultLinkTTL}, nil
}

// Close releases every connection.
func (s *Store) Close() { s.Pool.Close() }

// Ping checks that PostgreSQL answers.
func (s *Store) Ping(ctx context.Context) error { return s.Pool.Ping(ctx) }

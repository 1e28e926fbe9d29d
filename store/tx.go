package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// dbtx is what a query runs on: the pool, or one transaction.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Tx is one transaction: what an inbound webhook stores — the event, its signal, the
// suppression it causes — is committed together or not at all.
type Tx struct {
	tx pgx.Tx
	// hashKey is the store's PhoneHashKey: suppressions kept as a hash are matched with it.
	hashKey []byte
}

// InTx runs fn in a transaction, committed when fn returns nil and rolled back otherwise.
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error { return fn(&Tx{tx: tx, hashKey: s.PhoneHashKey}) })
}

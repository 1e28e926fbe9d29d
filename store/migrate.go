package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the pg_advisory_lock key that serialises migrations across processes
// ("smsflow" in ASCII, as an int64).
const migrationLockID int64 = 0x736d73666c6f77

// Migration is one ordered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		prefix, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("store: migration %q must be named NNNN_name.sql", name)
		}
		body, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: version, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("store: two migrations with version %d", out[i].Version)
		}
	}
	return out, nil
}

// Migrate applies the migrations not yet applied, each in its own transaction. It holds a
// session advisory lock for the whole run, so an API and a worker starting at once apply each
// migration exactly once; the second waits and then finds nothing to do.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
		return nil, fmt.Errorf("store: migrate: take lock: %w", err)
	}
	defer func() {
		// A fresh context: the caller's may be cancelled, and the lock must not outlive us.
		_, unlockErr := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockID)
		err = errors.Join(err, unlockErr)
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	done := map[int]bool{}
	rows, _ := conn.Query(ctx, "SELECT version FROM schema_migrations")
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("store: migrate: read applied versions: %w", err)
	}
	for _, v := range versions {
		done[v] = true
	}
	for _, m := range migrations {
		if done[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("store: migration %s: %w", m.Name, err)
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// ErrMigrationsPending means the database is reachable but behind the binary's schema.
var ErrMigrationsPending = errors.New("store: migrations pending")

// CheckMigrated reports ErrMigrationsPending when the newest embedded migration is not applied.
func (s *Store) CheckMigrated(ctx context.Context) error {
	migrations, err := Migrations()
	if err != nil {
		return err
	}
	want := migrations[len(migrations)-1].Version
	var have int
	err = s.Pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
			return fmt.Errorf("%w: none applied", ErrMigrationsPending)
		}
		return err
	}
	if have < want {
		return fmt.Errorf("%w: at version %d, binary has %d", ErrMigrationsPending, have, want)
	}
	return nil
}

// MigrateUntilDone retries Migrate every interval until it succeeds or ctx ends, so a process
// started while PostgreSQL is down becomes ready once it is back instead of crash-looping.
func (s *Store) MigrateUntilDone(ctx context.Context, log *slog.Logger, interval time.Duration) error {
	for {
		applied, err := s.Migrate(ctx)
		if err == nil {
			log.Info("schema migrations up to date", "applied", applied)
			return nil
		}
		log.Warn("schema migrations not applied yet; retrying", "error", err, "retry_in", interval)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

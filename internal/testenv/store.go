package testenv

import (
	"context"
	"testing"

	"smsflow/store"
)

// Store opens a fresh database of its own (see Database), migrated, closed when the test ends.
func Store(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// Package testenv gives integration tests the real services that `make test` starts (through
// `devstack exec`): a fresh PostgreSQL database per test and a Temporal client. With CI=true a
// missing service fails the test; elsewhere the test is skipped with the command to run.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"smsflow/internal/devstack"
	"smsflow/payloadcodec/codectest"
)

// Require returns the variable's value, or fails (CI) / skips (elsewhere) when it is unset.
func Require(t testing.TB, variable string) string {
	t.Helper()
	v := os.Getenv(variable)
	if v != "" {
		return v
	}
	Missing(t, fmt.Sprintf("%s is not set: run the tests with `make test`, which starts PostgreSQL and the Temporal dev server", variable))
	return ""
}

// Missing ends a test whose service or tool is missing: it fails in CI (CI=true), where
// everything a test needs is installed, and skips elsewhere.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Database creates an empty database on the server of DATABASE_URL, drops it when the test ends,
// and returns its connection string.
func Database(t testing.TB) string {
	t.Helper()
	base := Require(t, "DATABASE_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to DATABASE_URL: %v", err)
	}
	defer admin.Close(ctx)
	name := "t_" + RandomID()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Temporal dials the server of TEMPORAL_ADDRESS with the tests' payload key (codectest.Keys, the
// harness's): it encrypts what it sends and decodes workflow results and queries. The client is
// closed when the test ends.
func Temporal(t testing.TB) client.Client {
	t.Helper()
	addr := Require(t, "TEMPORAL_ADDRESS")
	ns := os.Getenv("TEMPORAL_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	c, err := client.Dial(codectest.ClientOptions(client.Options{HostPort: addr, Namespace: ns, Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))}))
	if err != nil {
		t.Fatalf("dial Temporal at %s: %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

// RandomID is a short random lowercase hex string for names that must not collide.
func RandomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// OwnPostgres starts a PostgreSQL cluster for this test alone (for tests that stop and restart
// it) and stops it when the test ends.
func OwnPostgres(t testing.TB) *devstack.Postgres {
	t.Helper()
	if _, err := devstack.FindPostgresBin(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir, err := devstack.TempDir("smsflow-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := devstack.StartPostgres(context.Background(), dir+"/data", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pg.Stop()
		_ = os.RemoveAll(dir)
	})
	return pg
}

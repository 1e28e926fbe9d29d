package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"smsflow/internal/testenv"
	"smsflow/store"
)

func TestReencryptTokensAndSenders(t *testing.T) {
	url := testenv.Database(t)
	ctx := context.Background()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	oldKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'o'}, 32))
	newKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'n'}, 32))
	old, _ := store.NewTokens(db, oldKey)
	for _, p := range []int64{1, 2} {
		if err := old.Save(ctx, store.Token{PortalID: p, AccessToken: "secret-access", RefreshToken: "secret-refresh"}); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"DATABASE_URL": url, "TOKEN_ENCRYPTION_KEY": oldKey, "TOKEN_ENCRYPTION_KEYS": "2027:" + newKey}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out bytes.Buffer
	if err := run(ctx, []string{"reencrypt-tokens"}, &out, lookup); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "re-encrypted 2 tokens with key 2027") || strings.Contains(out.String(), "secret") {
		t.Fatalf("output %q", out.String())
	}
	onlyNew, _ := store.NewTokens(db, "2027:"+newKey)
	if tok, err := onlyNew.Get(ctx, 2); err != nil || tok.RefreshToken != "secret-refresh" {
		t.Fatalf("after re-encryption the new key alone: %+v, %v", tok, err)
	}

	out.Reset()
	if err := run(ctx, []string{"senders", "add", "-portal", "7", "-default", "ACME", "+33612345600"}, &out, lookup); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"senders", "remove", "-portal", "7", "33612345600"}, &out, lookup); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"senders", "list", "-portal", "7"}, &out, lookup); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "ACME") || !strings.Contains(lines[1], "true") {
		t.Fatalf("senders list:\n%s", out.String())
	}
	if err := run(ctx, []string{"senders", "rate", "-portal", "7", "-rate", "2.5", "ACME"}, &out, lookup); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := db.SenderRate(ctx, 7, "ACME"); r != 2.5 || !ok || err != nil {
		t.Fatalf("rate = %v, %v, %v; want 2.5", r, ok, err)
	}
	out.Reset()
	if err := run(ctx, []string{"senders", "list", "-portal", "7"}, &out, lookup); err != nil || !strings.Contains(out.String(), "2.5/s") {
		t.Fatalf("senders list: %v\n%s", err, out.String())
	}
	if err := run(ctx, []string{"senders", "rate", "-portal", "7", "ACME"}, &out, lookup); err == nil {
		t.Fatal("rate without -rate accepted")
	}
	if err := run(ctx, []string{"senders", "add", "ACME"}, &out, lookup); err == nil {
		t.Fatal("add without -portal accepted")
	}
}

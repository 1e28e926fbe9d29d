package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"smsflow/internal/testenv"
	"smsflow/payloadcodec/codectest"
	"smsflow/store"
)

func TestEraseAndDisconnect(t *testing.T) {
	url := testenv.Database(t)
	temporal := testenv.Require(t, "TEMPORAL_ADDRESS")
	ctx := context.Background()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const number = "+33612345681"
	for i := 0; i < 2; i++ {
		if err := db.SaveMessage(ctx, store.Message{ID: uuid.NewString(), PortalID: 7, ObjectType: "contact", ObjectID: "1",
			Phone: number, Status: "SMS_DELIVERED"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Suppress(ctx, 7, "sms", number, store.SourceStopReply, ""); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url, "TEMPORAL_ADDRESS": temporal, "PAYLOAD_KEYS": codectest.Keys}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out bytes.Buffer
	if err := run(ctx, []string{"erase", "-portal", "7", number}, &out, lookup); err == nil || !strings.Contains(err.Error(), "PHONE_HASH_KEY") {
		t.Fatalf("erase without PHONE_HASH_KEY: %v, want refused", err)
	}
	env["PHONE_HASH_KEY"] = "ctl-phone-key"
	out.Reset()
	if err := run(ctx, []string{"erase", "-portal", "7", "-country", "FR", "06 12 34 56 81"}, &out, lookup); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "erased 2 messages") || strings.Contains(out.String(), "612345681") {
		t.Errorf("erase output %q", out.String())
	}
	var left int
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM messages WHERE phone = $1) + (SELECT count(*) FROM suppressions WHERE phone = $1)`,
		number).Scan(&left); err != nil || left != 0 {
		t.Errorf("rows with the number in clear: %d, %v", left, err)
	}
	db.PhoneHashKey = []byte("ctl-phone-key")
	if off, _, _ := db.Suppressed(ctx, 7, "sms", number); !off {
		t.Error("the opt-out did not survive the erasure")
	}

	if err := db.SetPortalSettings(ctx, 7, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"disconnect", "-portal", "7"}, &out, lookup); err != nil {
		t.Fatal(err)
	}
	if s, err := db.PortalSettingsOf(ctx, 7); err != nil || s.Connected || !strings.Contains(out.String(), "portal 7 disconnected") {
		t.Errorf("after disconnect: connected=%v %v, output %q", s.Connected, err, out.String())
	}
}

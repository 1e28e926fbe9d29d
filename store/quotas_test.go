package store_test

import (
	"context"
	"testing"
	"time"

	"smsflow/store"
)

func TestReserveQuota(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 23, 30, 0, 0, time.UTC)
	subjects := []store.QuotaSubject{{Scope: "sender", Subject: "ACME"}, {Scope: "user", Subject: "u1"}}
	if err := s.SetQuota(ctx, 7, "sender", "ACME", 2, 3, "defer"); err != nil {
		t.Fatal(err)
	}
	ids := []string{"00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002", "00000000-0000-0000-0000-000000000003"}
	for _, id := range ids[:2] {
		d, err := s.ReserveQuota(ctx, id, 7, subjects, now)
		if err != nil || !d.OK {
			t.Fatalf("reserve %s = %+v %v, want within the quota", id, d, err)
		}
	}
	// A retried check of a counted message is not counted again.
	if d, err := s.ReserveQuota(ctx, ids[1], 7, subjects, now); err != nil || !d.OK {
		t.Fatalf("retry = %+v %v", d, err)
	}
	d, err := s.ReserveQuota(ctx, ids[2], 7, subjects, now)
	if err != nil || d.OK || d.Scope != "sender" || d.Subject != "ACME" || d.Period != "2026-11-25" || d.Limit != 2 || d.OnExceed != "defer" ||
		!d.Resets.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("third message = %+v %v, want the sender's daily quota of 2 reached, defer, reset at the next UTC day", d, err)
	}
	// Nothing of the refused reservation was counted: the next day it fits, and the month has room for it.
	d, err = s.ReserveQuota(ctx, ids[2], 7, subjects, now.Add(time.Hour))
	if err != nil || !d.OK {
		t.Fatalf("next day = %+v %v", d, err)
	}
	var used int
	if err := s.Pool.QueryRow(ctx, `SELECT used FROM quota_usage WHERE portal_id = 7 AND scope = 'user' AND subject = 'u1' AND period = '2026-11'`).Scan(&used); err != nil || used != 3 {
		t.Fatalf("user's monthly count = %d %v, want 3", used, err)
	}
	// Default limits apply to a subject without its own: 5,000 a day.
	if err := s.SetQuota(ctx, 8, "user", "*", 1, 10, "reject"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.ReserveQuota(ctx, "00000000-0000-0000-0000-000000000010", 8, subjects, now); !d.OK {
		t.Fatalf("first message of portal 8 refused: %+v", d)
	}
	if d, _ := s.ReserveQuota(ctx, "00000000-0000-0000-0000-000000000011", 8, subjects, now); d.OK || d.Scope != "user" || d.OnExceed != "reject" {
		t.Fatalf("the '*' user limit of portal 8 not applied: %+v", d)
	}
	// A month reached resets at the next UTC month.
	if err := s.SetQuota(ctx, 9, "user", "u1", 100, 1, "defer"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.ReserveQuota(ctx, "00000000-0000-0000-0000-000000000020", 9, subjects, now); !d.OK {
		t.Fatalf("first message of portal 9 refused: %+v", d)
	}
	if d, _ := s.ReserveQuota(ctx, "00000000-0000-0000-0000-000000000021", 9, subjects, now); d.OK || d.Period != "2026-11" ||
		!d.Resets.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("monthly quota of portal 9 = %+v, want reached, reset on 2026-12-01", d)
	}
}

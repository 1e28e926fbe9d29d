package store_test

import (
	"context"
	"testing"

	"smsflow/store"
)

func TestPortalSenders(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	if c, err := s.CheckSender(ctx, 1, "ACME"); err != nil || c.Allowed || c.Default != "" {
		t.Fatalf("no senders: %+v, %v", c, err)
	}
	for _, add := range []struct {
		sender    string
		asDefault bool
	}{{"ACME", false}, {"+33612345600", true}, {"Shop2", false}} {
		if err := s.AddSender(ctx, 1, add.sender, add.asDefault, store.SenderManual); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddSender(ctx, 2, "OTHER", true, store.SenderCarrier); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		portal  int64
		sender  string
		allowed bool
	}{
		{1, "ACME", true},
		{1, "acme", true}, // the same brand on a phone
		{1, "33612345600", true},
		{1, "+33612345600", true},
		{1, "OTHER", false}, // portal 2's
		{2, "ACME", false},
		{2, "other", true},
		{1, "", false},
		{1, "+33612345601", false},
	} {
		c, err := s.CheckSender(ctx, tc.portal, tc.sender)
		if err != nil || c.Allowed != tc.allowed {
			t.Errorf("portal %d sender %q: %+v, %v; want allowed %v", tc.portal, tc.sender, c, err, tc.allowed)
		}
	}
	if c, _ := s.CheckSender(ctx, 1, ""); c.Default != "+33612345600" {
		t.Fatalf("default of portal 1 = %q", c.Default)
	}
	// A new default replaces the old one; re-adding keeps the flag.
	if err := s.AddSender(ctx, 1, "ACME", true, store.SenderManual); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSender(ctx, 1, "ACME", false, store.SenderCarrier); err != nil {
		t.Fatal(err)
	}
	list, err := s.Senders(ctx, 1)
	if err != nil || len(list) != 3 || list[0].Sender != "ACME" || !list[0].Default || list[0].Source != store.SenderCarrier || list[1].Default || list[2].Default {
		t.Fatalf("senders of portal 1: %+v, %v", list, err)
	}
	if ok, err := s.RemoveSender(ctx, 1, "acme"); err != nil || !ok {
		t.Fatalf("RemoveSender = %v, %v", ok, err)
	}
	if c, _ := s.CheckSender(ctx, 1, "ACME"); c.Allowed || c.Default != "" {
		t.Fatalf("after removal: %+v", c)
	}
	if err := s.AddSender(ctx, 1, " + ", false, ""); err == nil {
		t.Fatal("an empty sender was added")
	}
}

// The migration lets portals keep the senders their sent messages used, and only those.
func TestSendersSeededFromSentMessages(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	// 0009 made portal_senders, 0014 added its rate (and the pacing tables): both apply again.
	if _, err := s.Pool.Exec(ctx, `DELETE FROM schema_migrations WHERE version IN (9, 14);
	DROP TABLE portal_senders, pacing_lanes, pacing_slots, frequency_sends;
	ALTER TABLE oauth_tokens DROP COLUMN key_id, DROP COLUMN version, DROP COLUMN refresh_claimed_until;
	INSERT INTO messages (id, portal_id, object_type, object_id, sender, status, sent_at) VALUES
		(gen_random_uuid(), 1, 'contact', '1', 'ACME', 'SMS_SENT', now()),
		(gen_random_uuid(), 1, 'contact', '2', 'Acme', 'SMS_DELIVERED', now()),
		(gen_random_uuid(), 1, 'contact', '3', 'NEVERSENT', 'SMS_NOT_SENT', NULL),
		(gen_random_uuid(), 2, 'contact', '4', '+33612345600', 'SMS_SENT', now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	one, _ := s.Senders(ctx, 1)
	two, _ := s.Senders(ctx, 2)
	if len(one) != 1 || store.SenderKey(one[0].Sender) != "ACME" || one[0].Source != store.SenderMigration || len(two) != 1 {
		t.Fatalf("seeded senders: %+v and %+v", one, two)
	}
}

package store_test

import (
	"context"
	"testing"
)

func TestSuppressions(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	if err := s.Suppress(ctx, 7, "sms", "+33612345678", "stop_reply", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Suppress(ctx, 7, "sms", "+33612345678", "unsubscribe_link", ""); err != nil { // idempotent
		t.Fatal(err)
	}
	if off, reason, err := s.Suppressed(ctx, 7, "sms", "+33612345678"); err != nil || !off || reason != "stop_reply" {
		t.Fatalf("suppressed = %v %q %v, want the first reason kept", off, reason, err)
	}
	if off, _, _ := s.Suppressed(ctx, 8, "sms", "+33612345678"); off {
		t.Fatal("a suppression leaked to another portal")
	}
	if err := s.Unsuppress(ctx, 7, "sms", "+33612345678"); err != nil {
		t.Fatal(err)
	}
	if off, _, _ := s.Suppressed(ctx, 7, "sms", "+33612345678"); off {
		t.Fatal("START did not take the number off the list")
	}
}

package activities_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"smsflow/activities"
	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/store"
)

func TestCancellationReason(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t)
	db.PhoneHashKey = []byte("acts-phone-key")
	a := &activities.Activities{Store: db}
	const connected, disconnected = int64(7001), int64(7002)
	for _, p := range []int64{connected, disconnected} {
		if err := db.SetPortalSettings(ctx, p, map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DisconnectPortal(ctx, disconnected); err != nil {
		t.Fatal(err)
	}
	erased := uuid.NewString()
	if err := db.SaveMessage(ctx, store.Message{ID: erased, PortalID: connected, ObjectType: "contact", ObjectID: "1",
		Phone: "+33612345601", Status: string(outcome.Pending)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Erase(ctx, store.Erasure{PortalID: connected, Phone: "+33612345601"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   activities.CancellationInput
		want outcome.Code
	}{
		{"operator", activities.CancellationInput{PortalID: connected, MessageID: uuid.NewString()}, outcome.Cancelled},
		{"uninstalled", activities.CancellationInput{PortalID: disconnected, MessageID: uuid.NewString()}, outcome.PortalDisconnected},
		{"erased", activities.CancellationInput{PortalID: connected, MessageID: erased}, outcome.Erased},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := a.CancellationReason(ctx, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Code != c.want || got.Message == "" {
				t.Errorf("reason = %+v, want code %s with a message", got, c.want)
			}
		})
	}
}

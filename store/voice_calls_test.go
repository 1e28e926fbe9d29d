package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"smsflow/store"
	"smsflow/voice"
)

func TestCallScripts(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	id := uuid.NewString()
	sc := voice.Script{CallID: id, Opening: voice.Speech{Text: "Bonjour, tapez 1", Language: "fr-FR"}, Repeats: 2,
		Keys: []voice.KeyAction{{Key: "1", Action: voice.ActionTransfer, TransferTo: "+33612345601"}}}
	if _, _, err := s.CallScript(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before saving: %v, want ErrNotFound", err)
	}
	if _, _, err := s.CallScript(ctx, "not-a-uuid"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("malformed id: %v, want ErrNotFound", err)
	}
	for range 2 { // idempotent
		if err := s.SaveCallScript(ctx, 7, sc); err != nil {
			t.Fatal(err)
		}
	}
	got, portal, err := s.CallScript(ctx, id)
	if err != nil || portal != 7 || got.Opening != sc.Opening || got.Repeats != 2 || len(got.Keys) != 1 || got.Keys[0].TransferTo != "+33612345601" {
		t.Fatalf("CallScript = %+v, %d, %v", got, portal, err)
	}
	sc.Repeats = 1
	if err := s.SaveCallScript(ctx, 7, sc); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.CallScript(ctx, id); got.Repeats != 1 {
		t.Fatalf("saving again did not overwrite: %+v", got)
	}
	if err := s.RecordCallPlaced(ctx, uuid.NewString(), "+33612345600", "sim", "CA1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("placing an unknown call: %v", err)
	}
	if err := s.RecordCallPlaced(ctx, id, "+33612345600", "sim", "CA1"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Call(ctx, id); err != nil || c.Carrier != "sim" || c.CarrierCallID != "CA1" || c.Caller != "+33612345600" {
		t.Fatalf("Call = %+v, %v", c, err)
	}
	if got, err := s.CallByCarrierID(ctx, "sim", "CA1"); err != nil || got != id {
		t.Fatalf("CallByCarrierID = %q, %v", got, err)
	}
	if _, err := s.CallByCarrierID(ctx, "sim", "CA2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown carrier call: %v", err)
	}
}

package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"smsflow/store"
)

func TestTemplatesVersioned(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	a, err := s.CreateTemplate(ctx, 1, "Relance", "Bonjour $prenom, v1", "u7")
	if err != nil || a.Version != 1 || a.PortalID != 1 || a.UpdatedBy != "u7" {
		t.Fatalf("create: %+v, %v", a, err)
	}
	if _, err := s.CreateTemplate(ctx, 1, "relance", "other", ""); !errors.Is(err, store.ErrTemplateNameTaken) {
		t.Fatalf("same name in another case: %v", err)
	}
	if _, err := s.CreateTemplate(ctx, 2, "Relance", "portal 2's", ""); err != nil {
		t.Fatalf("the same name in another portal: %v", err)
	}

	// A message written from version 1 keeps it through later edits.
	held := uuid.NewString()
	got, err := s.TemplateForMessage(ctx, 1, a.ID, held)
	if err != nil || got.Version != 1 || got.Body != "Bonjour $prenom, v1" {
		t.Fatalf("template for message: %+v, %v", got, err)
	}
	b, err := s.UpdateTemplate(ctx, 1, a.ID, "Relance", "Bonjour $prenom, v2", "u8", 1)
	if err != nil || b.Version != 2 || b.Body != "Bonjour $prenom, v2" {
		t.Fatalf("update: %+v, %v", b, err)
	}
	if _, err := s.UpdateTemplate(ctx, 1, a.ID, "Relance", "stale edit", "u9", 1); !errors.Is(err, store.ErrTemplateVersionConflict) {
		t.Fatalf("an edit from version 1 after version 2: %v", err)
	}
	if _, err := s.UpdateTemplate(ctx, 2, a.ID, "x", "another portal's edit", "", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("portal 2 edits portal 1's template: %v", err)
	}
	if got, err := s.TemplateForMessage(ctx, 1, a.ID, held); err != nil || got.Version != 1 || got.Body != "Bonjour $prenom, v1" {
		t.Fatalf("the held message's template after an edit: %+v, %v", got, err)
	}
	fresh := uuid.NewString()
	if got, err := s.TemplateForMessage(ctx, 1, a.ID, fresh); err != nil || got.Version != 2 {
		t.Fatalf("a new message: %+v, %v", got, err)
	}
	used, err := s.MessageTemplates(ctx, []string{held, fresh, uuid.NewString()})
	if err != nil || len(used) != 2 || used[held] != (store.MessageTemplate{TemplateID: a.ID, Version: 1}) || used[fresh].Version != 2 {
		t.Fatalf("message templates: %+v, %v", used, err)
	}
	versions, err := s.TemplateVersions(ctx, 1, a.ID)
	if err != nil || len(versions) != 2 || versions[0].Version != 2 || versions[1].Body != "Bonjour $prenom, v1" || versions[0].UpdatedBy != "u8" {
		t.Fatalf("versions: %+v, %v", versions, err)
	}
	if _, err := s.TemplateForMessage(ctx, 2, a.ID, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("portal 2 uses portal 1's template: %v", err)
	}

	// Deleted: not listed, not usable by new messages; the held message still reads its version,
	// and the name is free again.
	if ok, err := s.ArchiveTemplate(ctx, 1, a.ID); err != nil || !ok {
		t.Fatalf("archive: %v, %v", ok, err)
	}
	if ok, _ := s.ArchiveTemplate(ctx, 1, a.ID); ok {
		t.Fatal("archived twice")
	}
	if list, err := s.Templates(ctx, 1); err != nil || len(list) != 0 {
		t.Fatalf("list after delete: %+v, %v", list, err)
	}
	if _, err := s.TemplateForMessage(ctx, 1, a.ID, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a new message from a deleted template: %v", err)
	}
	if got, err := s.TemplateForMessage(ctx, 1, a.ID, held); err != nil || got.Version != 1 {
		t.Fatalf("the held message after delete: %+v, %v", got, err)
	}
	if _, err := s.CreateTemplate(ctx, 1, "Relance", "again", ""); err != nil {
		t.Fatalf("reuse the name of a deleted template: %v", err)
	}
	if list, err := s.Templates(ctx, 1); err != nil || len(list) != 1 || list[0].Body != "again" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if _, err := s.GetTemplate(ctx, 1, "not-a-uuid"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a malformed id: %v", err)
	}
}

func TestRecordMessagesNewestFirst(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	var ids []string
	for i, rec := range []struct{ portal int64 }{{1}, {1}, {1}, {2}} {
		id := uuid.NewString()
		ids = append(ids, id)
		if err := s.SaveMessage(ctx, store.Message{ID: id, PortalID: rec.portal, ObjectType: "contact", ObjectID: "904",
			Status: "SMS_SENT", Text: "hello", Segments: 1, Encoding: "GSM7", Campaign: "C"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Pool.Exec(ctx, `UPDATE messages SET created_at = now() - make_interval(mins => $2) WHERE id = $1`, id, 10-i); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.RecordMessages(ctx, 1, "contact", "904", 2)
	if err != nil || len(got) != 2 || got[0].ID != ids[2] || got[1].ID != ids[1] || got[0].Text != "hello" || got[0].Segments != 1 {
		t.Fatalf("record messages: %+v, %v", got, err)
	}
	if got, _ := s.RecordMessages(ctx, 2, "contact", "904", 10); len(got) != 1 || got[0].ID != ids[3] {
		t.Fatalf("portal 2: %+v", got)
	}
	if got, _ := s.RecordMessages(ctx, 1, "deal", "904", 10); len(got) != 0 {
		t.Fatalf("another object type: %+v", got)
	}
}

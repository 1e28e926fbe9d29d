package store_test

import (
	"context"
	"errors"
	"testing"

	"smsflow/store"
)

func TestShortLinks(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	msg := "00000000-0000-0000-0000-0000000000aa"
	a, err := s.CreateShortLink(ctx, msg, 7, store.LinkRedirect, "https://shop.example.com/a")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.CreateShortLink(ctx, msg, 7, store.LinkRedirect, "https://shop.example.com/a")
	other, _ := s.CreateShortLink(ctx, msg, 7, store.LinkRedirect, "https://shop.example.com/b")
	if a != again || a == other || len(a) != 10 {
		t.Fatalf("codes %q %q %q: want one stable code per target", a, again, other)
	}
	for i := 1; i <= 2; i++ {
		l, err := s.ShortLinkByCode(ctx, a, true)
		if err != nil || l.Clicks != i || l.TargetURL != "https://shop.example.com/a" || l.MessageID != msg {
			t.Fatalf("click %d = %+v %v", i, l, err)
		}
	}
	if _, err := s.ShortLinkByCode(ctx, "nope", false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown code error = %v", err)
	}
}

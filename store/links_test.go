package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"smsflow/store"
)

var codeForm = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

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
	unsub, _ := s.CreateShortLink(ctx, msg, 7, store.LinkUnsubscribe, "")
	if a != again || a == other || a == unsub || !codeForm.MatchString(a) || !codeForm.MatchString(unsub) {
		t.Fatalf("codes %q %q %q %q: want one stable 128-bit code per message, kind and target", a, again, other, unsub)
	}
	for i := 1; i <= 2; i++ {
		l, err := s.ShortLinkByCode(ctx, a, store.VisitClick)
		if err != nil || l.Clicks != i || l.Previews != 0 || l.TargetURL != "https://shop.example.com/a" || l.MessageID != msg {
			t.Fatalf("click %d = %+v %v", i, l, err)
		}
	}
	l, err := s.ShortLinkByCode(ctx, a, store.VisitPreview)
	if err != nil || l.Clicks != 2 || l.Previews != 1 {
		t.Fatalf("preview = %+v %v: want previews counted apart from clicks", l, err)
	}
	if l.ExpiresAt.Before(time.Now().Add(store.DefaultLinkTTL-time.Hour)) || l.ExpiresAt.After(time.Now().Add(store.DefaultLinkTTL+time.Hour)) {
		t.Fatalf("expires at %v, want about %v from now", l.ExpiresAt, store.DefaultLinkTTL)
	}
	if _, err := s.ShortLinkByCode(ctx, "nope", store.VisitNone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown code error = %v", err)
	}
}

// The code of a link is not a function of what an outsider can know (message id, kind, target):
// the old scheme's code for the same inputs does not open it, and the same inputs in another
// database get another code.
func TestShortLinkCodesAreNotDerived(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	msg := "00000000-0000-0000-0000-0000000000bb"
	code, err := s.CreateShortLink(ctx, msg, 7, store.LinkUnsubscribe, "")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(msg + "\x00" + store.LinkUnsubscribe + "\x00"))
	derived := base64.RawURLEncoding.EncodeToString(sum[:])[:10]
	if code == derived || code[:10] == derived {
		t.Fatalf("code %q is derived from the message id", code)
	}
	if _, err := s.ShortLinkByCode(ctx, derived, store.VisitNone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the derived code opens the link: %v", err)
	}
	if _, err := s.Pool.Exec(ctx, `DELETE FROM short_links WHERE message_id = $1`, msg); err != nil {
		t.Fatal(err)
	}
	again, _ := s.CreateShortLink(ctx, msg, 7, store.LinkUnsubscribe, "")
	if again == code {
		t.Fatalf("the same inputs got the same code %q twice after the row was gone", code)
	}
}

// Retried activities racing each other all get the one code stored.
func TestShortLinkConcurrentCreate(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	msg := "00000000-0000-0000-0000-0000000000cc"
	codes := make([]string, 8)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if codes[i], err = s.CreateShortLink(ctx, msg, 7, store.LinkRedirect, "https://shop.example.com/x"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, c := range codes[1:] {
		if c != codes[0] {
			t.Fatalf("codes %v: want one", codes)
		}
	}
	var n int
	_ = s.Pool.QueryRow(ctx, `SELECT count(*) FROM short_links WHERE message_id = $1`, msg).Scan(&n)
	if n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// An expired code is unknown: it neither redirects nor counts.
func TestShortLinkExpiry(t *testing.T) {
	s := migrated(t)
	ctx := context.Background()
	s.LinkTTL = time.Hour
	msg := "00000000-0000-0000-0000-0000000000dd"
	code, err := s.CreateShortLink(ctx, msg, 7, store.LinkRedirect, "https://shop.example.com/e")
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.ShortLinkByCode(ctx, code, store.VisitNone); err != nil || l.ExpiresAt.Sub(time.Now()) < 59*time.Minute || l.ExpiresAt.Sub(time.Now()) > 61*time.Minute {
		t.Fatalf("fresh link = %+v %v, want it to expire in LinkTTL", l, err)
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE short_links SET expires_at = now() - interval '1 second' WHERE code = $1`, code); err != nil {
		t.Fatal(err)
	}
	for _, v := range []store.Visit{store.VisitNone, store.VisitClick, store.VisitPreview} {
		if _, err := s.ShortLinkByCode(ctx, code, v); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("visit %d of an expired link: %v, want ErrNotFound", v, err)
		}
	}
	var clicks, previews int
	_ = s.Pool.QueryRow(ctx, `SELECT clicks, previews FROM short_links WHERE code = $1`, code).Scan(&clicks, &previews)
	if clicks != 0 || previews != 0 {
		t.Fatalf("an expired link counted %d clicks, %d previews", clicks, previews)
	}
}

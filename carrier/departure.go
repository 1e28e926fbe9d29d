package carrier

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
)

// A send request "departs" when the first byte of its body is handed to the network. Before
// that the carrier cannot have the message (at most it saw headers, on which no carrier acts),
// so a failure or a crash before departure is "never left": sending again is safe. After it the
// message "maybe left" until the carrier answers. NewSendRequest builds requests that report
// their departure, and that the HTTP client can never replay on its own (no GetBody).

// ErrDepartureRefused: the departure hook refused to let the request leave; nothing was sent.
var ErrDepartureRefused = errors.New("carrier: request held before departure")

type departureKey struct{}

// WithDeparture returns a context whose send requests (NewSendRequest) call depart right before
// the first byte of their body leaves, once. An error from depart stops the request there: the
// carrier gets no body and the send fails as never left. depart runs on the HTTP client's
// goroutine, so the body waits for it: a dispatcher records "sending" in it.
func WithDeparture(ctx context.Context, depart func() error) context.Context {
	return context.WithValue(ctx, departureKey{}, depart)
}

// Departing is implemented by senders whose sends are made with NewSendRequest, so they call
// the context's departure hook. A dispatcher records "sending" itself, before the call, for
// senders that do not.
type Departing interface {
	ReportsDeparture()
}

// NewSendRequest builds the POST of an encoded form that creates a message. Its body calls the
// context's departure hook (WithDeparture) before its first byte, and Departed tells afterwards
// whether it got that far.
func NewSendRequest(ctx context.Context, url string, form string) (*http.Request, error) {
	depart, _ := ctx.Value(departureKey{}).(func() error)
	body := &departingBody{r: strings.NewReader(form), depart: depart}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return nil, err
	}
	// A known length, and no GetBody: the transport sends the body once and never replays it on
	// a reused connection that failed, which would be a blind resend.
	req.ContentLength = int64(len(form))
	req.GetBody = nil
	return req, nil
}

// Departed reports whether req's body started to leave, and seals it: from now on the body
// refuses to leave, so the answer stays true. For a request not built by NewSendRequest it
// answers true (nothing is known, so assume the worst).
func Departed(req *http.Request) bool {
	b, ok := req.Body.(*departingBody)
	if !ok {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sealed = true
	return b.departed
}

type departingBody struct {
	r      *strings.Reader
	depart func() error

	mu       sync.Mutex
	asked    bool // depart was called
	departed bool
	sealed   bool
	err      error
}

func (b *departingBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if !b.asked {
		b.asked = true
		switch {
		case b.sealed:
			b.err = ErrDepartureRefused
		case b.depart != nil:
			if err := b.depart(); err != nil {
				b.err = errors.Join(ErrDepartureRefused, err)
			}
		}
		b.departed = b.err == nil
	}
	err := b.err
	b.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return b.r.Read(p)
}

func (b *departingBody) Close() error { return nil }

var _ io.ReadCloser = (*departingBody)(nil)

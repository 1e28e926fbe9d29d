package dispatch_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"smsflow/carrier"
	"smsflow/carrier/dispatch"
	"smsflow/internal/testenv"
	"smsflow/store"
	"smsflow/voice"
)

// fakeCaller places calls in memory. fail decides the answer of each placement: placed reports
// whether the carrier took the call (an uncertain answer may come after it did).
type fakeCaller struct {
	name   string
	finder bool
	fail   func(n int) (placed bool, err error)

	mu       sync.Mutex
	requests int
	calls    map[string]string // our call id → the carrier's
	lookups  int
}

func (f *fakeCaller) Name() string { return f.name }

func (f *fakeCaller) PlaceCall(_ context.Context, r carrier.CallRequest) (voice.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	placed, err := true, error(nil)
	if f.fail != nil {
		placed, err = f.fail(f.requests)
	}
	if placed {
		if f.calls == nil {
			f.calls = map[string]string{}
		}
		if _, dup := f.calls[r.ID]; dup {
			panic("call placed twice")
		}
		f.calls[r.ID] = "CA" + r.ID[:8]
	}
	if err != nil {
		return voice.Receipt{}, err
	}
	return voice.Receipt{CarrierCallID: f.calls[r.ID]}, nil
}

// findingCaller is a fakeCaller whose carrier can be asked.
type findingCaller struct{ *fakeCaller }

func (f findingCaller) FindCall(_ context.Context, r carrier.CallRequest, _ time.Time) (voice.Receipt, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	id, ok := f.calls[r.ID]
	return voice.Receipt{CarrierCallID: id}, ok, nil
}

func (f *fakeCaller) placed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type memCalls struct {
	*memAttempts
	placed map[string]string
}

func (m *memCalls) RecordCallPlaced(_ context.Context, id, _, name, carrierID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.placed[id] = name + "/" + carrierID
	return nil
}

func newCalls() *memCalls { return &memCalls{memAttempts: newAttempts(), placed: map[string]string{}} }

var uncertain = &carrier.Error{Carrier: "fake", Class: carrier.Uncertain, Message: "answer lost"}

func call(id string) voice.Call {
	return voice.Call{ID: id, PortalID: 1, From: "+33612345600", To: "+33612345601"}
}

// An uncertain placement that the carrier took is found by a lookup, never placed again.
func TestUncertainCallIsFoundNotPlacedAgain(t *testing.T) {
	ctx := context.Background()
	f := &fakeCaller{name: "sim", fail: func(n int) (bool, error) { return true, uncertain }}
	att := newCalls()
	p := dispatch.NewCallPlacer(att, findingCaller{f}, nil, dispatch.CallSettings{})
	id := uuid.NewString()
	r, err := p.PlaceCall(ctx, call(id))
	if err != nil || r.CarrierCallID == "" || r.Carrier != "sim" {
		t.Fatalf("%+v %v", r, err)
	}
	for range 2 {
		if r2, err := p.PlaceCall(ctx, call(id)); err != nil || r2.CarrierCallID != r.CarrierCallID {
			t.Fatalf("again: %+v %v", r2, err)
		}
	}
	if f.requests != 1 || f.placed() != 1 {
		t.Fatalf("requests %d, calls %d; want 1, 1", f.requests, f.placed())
	}
	if att.placed[id] != "sim/"+r.CarrierCallID {
		t.Fatalf("recorded %q", att.placed[id])
	}
}

// A carrier that cannot be asked leaves an uncertain call uncertain, at every retry.
func TestUncertainCallWithoutLookupIsNeverPlacedAgain(t *testing.T) {
	ctx := context.Background()
	f := &fakeCaller{name: "twilio", fail: func(n int) (bool, error) { return true, uncertain }}
	p := dispatch.NewCallPlacer(newCalls(), f, nil, dispatch.CallSettings{})
	id := uuid.NewString()
	for range 3 {
		if _, err := p.PlaceCall(ctx, call(id)); !errors.Is(err, dispatch.ErrSendUncertain) {
			t.Fatalf("err %v, want ErrSendUncertain", err)
		}
	}
	if f.requests != 1 {
		t.Fatalf("%d requests, want 1", f.requests)
	}
}

// An uncertain placement the carrier did not take: "not found" is believed only once the
// lookup settled; then the call is placed (once).
func TestUncertainCallNotFoundIsPlacedAfterSettling(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	f := &fakeCaller{name: "sim", fail: func(n int) (bool, error) {
		if n == 1 {
			return false, uncertain
		}
		return true, nil
	}}
	att := newCalls()
	p := dispatch.NewCallPlacer(att, findingCaller{f}, nil, dispatch.CallSettings{LookupSettle: time.Minute,
		Now: func() time.Time { return now }})
	id := uuid.NewString()
	if _, err := p.PlaceCall(ctx, call(id)); err == nil || errors.Is(err, dispatch.ErrSendUncertain) {
		t.Fatalf("first: %v, want a temporary error", err)
	}
	att.mu.Lock()
	att.m[id][0].StartedAt = now
	att.mu.Unlock()
	if _, err := p.PlaceCall(ctx, call(id)); err == nil || f.requests != 1 {
		t.Fatalf("before settling: %v, %d requests; want an error and no new request", err, f.requests)
	}
	now = now.Add(2 * time.Minute)
	r, err := p.PlaceCall(ctx, call(id))
	if err != nil || r.CarrierCallID == "" || f.requests != 2 || f.placed() != 1 {
		t.Fatalf("after settling: %+v %v, %d requests %d calls", r, err, f.requests, f.placed())
	}
	if got := att.states(id); !slices.Equal(got, []string{store.AttemptAbandoned, store.AttemptAccepted}) {
		t.Fatalf("states %v", got)
	}
}

// The primary's voice breaker opens under failures; calls go to the secondary meanwhile.
func TestCallFailover(t *testing.T) {
	ctx := context.Background()
	down := &fakeCaller{name: "twilio", fail: func(int) (bool, error) {
		return false, &carrier.Error{Carrier: "twilio", Class: carrier.Temporary}
	}}
	up := &fakeCaller{name: "vonage"}
	p := dispatch.NewCallPlacer(newCalls(), down, up, dispatch.CallSettings{Settings: dispatch.Settings{BreakerFailures: 2}})
	for range 2 {
		if _, err := p.PlaceCall(ctx, call(uuid.NewString())); err == nil {
			t.Fatal("a failing primary placed a call")
		}
	}
	r, err := p.PlaceCall(ctx, call(uuid.NewString()))
	if err != nil || r.Carrier != "vonage" {
		t.Fatalf("%+v %v, want vonage", r, err)
	}
	if down.requests != 2 || up.placed() != 1 {
		t.Fatalf("primary %d requests, secondary %d calls", down.requests, up.placed())
	}
}

// With PostgreSQL: the attempt is recorded before the call, the placement beside the script.
func TestCallPlacerWithPostgres(t *testing.T) {
	ctx := context.Background()
	db := testenv.Store(t)
	id := uuid.NewString()
	if err := db.SaveCallScript(ctx, 3, voice.Script{CallID: id, Opening: voice.Speech{Text: "hello"}}); err != nil {
		t.Fatal(err)
	}
	f := &fakeCaller{name: "sim", fail: func(n int) (bool, error) { return true, uncertain }}
	p := dispatch.NewCallPlacer(db, findingCaller{f}, nil, dispatch.CallSettings{})
	r, err := p.PlaceCall(ctx, call(id))
	if err != nil {
		t.Fatal(err)
	}
	if r2, err := p.PlaceCall(ctx, call(id)); err != nil || r2.CarrierCallID != r.CarrierCallID || f.requests != 1 {
		t.Fatalf("again %+v %v (%d requests)", r2, err, f.requests)
	}
	c, err := db.Call(ctx, id)
	if err != nil || c.Carrier != "sim" || c.CarrierCallID != r.CarrierCallID || c.Caller != "+33612345600" {
		t.Fatalf("call %+v %v", c, err)
	}
	atts, err := db.DispatchAttempts(ctx, id)
	if err != nil || len(atts) != 1 || atts[0].State != store.AttemptAccepted {
		t.Fatalf("attempts %+v %v", atts, err)
	}
}

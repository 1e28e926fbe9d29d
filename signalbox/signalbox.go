// Package signalbox delivers the signals that stored inbound events (delivery reports, replies,
// clicks, unsubscribes) owe their message workflows. The API stores each event with its signal
// and tries it at once; a sweeper in the worker delivers whatever that left — Temporal was down,
// a process died in between — until the signal lands or the workflow is gone. Temporal or
// PostgreSQL being away delays a signal, never loses it.
package signalbox

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"smsflow/metrics"
	"smsflow/store"
	"smsflow/workflows"
)

// Options tune a Box; zero values take the defaults beside them.
type Options struct {
	// PollInterval separates sweeps that found less than a batch (1 s).
	PollInterval time.Duration
	// Batch is how many messages' signals one sweep claims (100).
	Batch int
	// Lease is how long a claim keeps other sweepers off a signal (1 min); it must outlast a
	// batch: Parallel deliveries at once, each bounded by SignalTimeout and MarkFor.
	Lease time.Duration
	// Parallel is how many workflows one sweep signals at once (8); the signals of one message
	// go one after the other, in the order they were stored.
	Parallel int
	// SignalTimeout bounds one signal (5 s).
	SignalTimeout time.Duration
	// MarkFor is how long recording a delivered signal is retried while PostgreSQL is away (20 s);
	// a signal whose mark never lands is signalled again after its lease, and the workflow
	// ignores the repeat by its event id.
	MarkFor time.Duration
	// MaxBackoff caps the wait before a failed signal is tried again (5 min); the wait doubles
	// from 1 s with each failure.
	MaxBackoff time.Duration
	// Pause is how long Now leaves signals to the sweeper after finding Temporal unreachable
	// (5 s), so that an outage does not hold every webhook for a SignalTimeout.
	Pause time.Duration
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PollInterval, time.Second)
	def(&o.Lease, time.Minute)
	def(&o.SignalTimeout, 5*time.Second)
	def(&o.MarkFor, 20*time.Second)
	def(&o.MaxBackoff, 5*time.Minute)
	def(&o.Pause, 5*time.Second)
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
}

// Box delivers stored signals.
type Box struct {
	store    *store.Store
	temporal Signaller
	log      *slog.Logger
	o        Options
	// pausedUntil (Unix nanoseconds) is when Now tries Temporal again after finding it away.
	pausedUntil atomic.Int64
}

// New returns a Box delivering through temporal (which may be nil: every signal then waits).
func New(db *store.Store, temporal Signaller, log *slog.Logger, o Options) *Box {
	o.defaults()
	return &Box{store: db, temporal: temporal, log: log, o: o}
}

// Lease is how long a claim holds a signal.
func (b *Box) Lease() time.Duration { return b.o.Lease }

// errNoTemporal stands for a Box built without a client.
var errNoTemporal = errors.New("signalbox: no Temporal client")

// Deliver signals one claimed event to its message's workflow and records the outcome: delivered,
// or done with when the workflow is gone or Temporal refuses the signal itself. Any other failure
// gives the claim back, due again after a backoff, and is returned.
func (b *Box) Deliver(ctx context.Context, p store.PendingSignal) error {
	return b.deliver(ctx, p, "sweeper")
}

// deliver is Deliver, counting the outcome under path ("webhook": the fast path; "sweeper").
func (b *Box) deliver(ctx context.Context, p store.PendingSignal, path string) error {
	err := b.signal(ctx, p)
	result := store.SignalDelivered
	var notFound *serviceerror.NotFound
	var invalid *serviceerror.InvalidArgument
	switch {
	case err == nil:
	case errors.As(err, &notFound) || status.Code(err) == codes.NotFound:
		result = store.SignalGone
		b.log.Info("inbound event for a workflow that is gone: stored only", "message_id", p.MessageID, "signal", p.Name, "event_seq", p.Seq)
	case errors.As(err, &invalid):
		result = store.SignalRefused
		b.log.Error("signal refused by Temporal: stored only", "message_id", p.MessageID, "signal", p.Name, "event_seq", p.Seq, "error", err)
	default:
		retryIn := b.backoff(p.Attempts + 1)
		if rerr := b.store.ReleaseSignal(context.WithoutCancel(ctx), p.Seq, retryIn, true); rerr != nil {
			err = errors.Join(err, rerr) // the lease ends anyway: the sweeper takes it then
		}
		return err
	}
	if err := b.mark(ctx, p, result); err != nil {
		return err
	}
	metrics.InboundSignalled.WithLabelValues(p.Name, result, path).Inc()
	return nil
}

func (b *Box) signal(ctx context.Context, p store.PendingSignal) error {
	if b.temporal == nil {
		return errNoTemporal
	}
	sctx, cancel := context.WithTimeout(ctx, b.o.SignalTimeout)
	defer cancel()
	return b.temporal.Signal(sctx, workflows.SMSWorkflowID(p.MessageID), p.Name, p.Payload, "smsflow-event-"+strconv.FormatInt(p.Seq, 10))
}

// mark records the outcome, retrying for MarkFor while PostgreSQL does not answer.
func (b *Box) mark(ctx context.Context, p store.PendingSignal, result string) error {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.o.MarkFor)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := b.store.MarkSignalled(mctx, p.Seq, result)
		if err == nil {
			return nil
		}
		select {
		case <-mctx.Done():
			b.log.Error("signal delivered but not recorded; it will be repeated after its lease", "message_id", p.MessageID,
				"signal", p.Name, "event_seq", p.Seq, "error", err)
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// backoff is the wait before try n+1 after n failed tries: 1 s, 2 s, 4 s, … up to MaxBackoff.
func (b *Box) backoff(failures int) time.Duration {
	d := time.Second
	for i := 1; i < failures && d < b.o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, b.o.MaxBackoff)
}

// Now delivers a signal a webhook just claimed, unless a recent try found Temporal unreachable:
// then it hands the signal to the sweeper at once instead of holding the request. It never fails
// the caller: the event is stored, and whatever does not land now, the sweeper delivers.
func (b *Box) Now(ctx context.Context, p store.PendingSignal) {
	if time.Now().UnixNano() < b.pausedUntil.Load() {
		if err := b.store.ReleaseSignal(context.WithoutCancel(ctx), p.Seq, 0, false); err != nil {
			b.log.Warn("signal left to its lease", "message_id", p.MessageID, "signal", p.Name, "error", err)
		}
		return
	}
	if err := b.deliver(ctx, p, "webhook"); err != nil {
		b.pausedUntil.Store(time.Now().Add(b.o.Pause).UnixNano())
		b.log.Warn("signal not delivered now; the sweeper will", "message_id", p.MessageID, "signal", p.Name, "error", err)
	}
}

// Run sweeps until ctx ends: a full batch is followed by the next at once, anything less by a
// PollInterval's wait.
func (b *Box) Run(ctx context.Context) error {
	for {
		n, err := b.Sweep(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			b.log.Warn("signal sweep", "claimed", n, "error", err)
		}
		if n < b.o.Batch || err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(b.o.PollInterval):
			}
		}
	}
}

// Sweep claims one batch of due signals and delivers them, the messages Parallel at a time and
// each message's signals in order. After a failure that is not the workflow's (Temporal away),
// the signals not tried yet are given back for the next sweep. It returns how many it claimed
// and the first failure.
func (b *Box) Sweep(ctx context.Context) (int, error) {
	batch, err := b.store.ClaimDueSignals(ctx, b.o.Batch, b.o.Lease)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	var order []string
	byMessage := map[string][]store.PendingSignal{}
	for _, p := range batch {
		if _, ok := byMessage[p.MessageID]; !ok {
			order = append(order, p.MessageID)
		}
		byMessage[p.MessageID] = append(byMessage[p.MessageID], p)
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return first != nil }
	next := make(chan []store.PendingSignal)
	for range min(b.o.Parallel, len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for signals := range next {
				for i, p := range signals {
					if failed() || ctx.Err() != nil {
						b.giveBack(ctx, signals[i:], b.o.PollInterval)
						break
					}
					if err := b.Deliver(ctx, p); err != nil {
						mu.Lock()
						if first == nil {
							first = err
						}
						mu.Unlock()
						// The message's later signals wait as long as this one, so they keep their order.
						b.giveBack(ctx, signals[i+1:], b.backoff(p.Attempts+1))
						break
					}
				}
			}
		}()
	}
	for _, id := range order {
		next <- byMessage[id]
	}
	close(next)
	wg.Wait()
	return len(batch), first
}

// SampleOwed sets the outbox-lag gauge from the store every interval until ctx ends: stored
// events whose signal is not delivered yet. One count query a sample, whatever the backlog.
func (b *Box) SampleOwed(ctx context.Context, interval time.Duration) {
	for {
		if n, err := b.store.OwedSignals(ctx); err == nil {
			metrics.SignalsOwed.Set(float64(n))
		} else if ctx.Err() == nil {
			b.log.Warn("owed signals not counted", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// giveBack releases claimed signals that were not tried, due again after retryIn.
func (b *Box) giveBack(ctx context.Context, signals []store.PendingSignal, retryIn time.Duration) {
	for _, p := range signals {
		if err := b.store.ReleaseSignal(context.WithoutCancel(ctx), p.Seq, retryIn, false); err != nil {
			return // PostgreSQL is away too: the lease gives them back
		}
	}
}

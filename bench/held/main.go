// Command held measures a backlog waking at once: N marketing messages of one portal, accepted
// while France's window is closed, all held until it opens at 08:00 Paris time on the compliance
// clock (activities.ComplianceClock), then sent by the carrier simulator and written to a fake
// HubSpot that enforces HubSpot's budget (110 calls per 10 s per portal by default). A trickle of
// new transactional sends runs meanwhile, open loop, for the accept latency under the drain.
//
// It reports the time from the opening to the last dispatch and to the last HubSpot write, failed
// workflows, history events per message, the process's memory per held message (API, worker and
// simulators share the process), HubSpot calls per status change and 429s, messages per second
// completed HubSpot-side, and a projection to 1,000,000 held messages.
//
//	make bench-held                                          (10,000 messages; BENCHFLAGS="-n 100000")
//	bin/devstack exec -- go run ./bench/held -n 1000 -timeout 30m
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"smsflow/activities"
	"smsflow/bench/internal/benchstack"
	"smsflow/bench/internal/openloop"
	"smsflow/internal/harness"
	"smsflow/outcome"
)

type options struct {
	n             int
	concurrency   int
	openAfter     time.Duration
	hubspotLimit  int
	trickle       float64
	historySample int
	pool          int
	timeout       time.Duration
	progress      time.Duration
	env           keyValues
	settings      keyValues
}

// keyValues is a repeatable KEY=VALUE flag.
type keyValues map[string]string

func (kv keyValues) String() string { return fmt.Sprint(map[string]string(kv)) }

func (kv keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", s)
	}
	kv[k] = v
	return nil
}

func main() {
	o := options{env: keyValues{}, settings: keyValues{"listen_after": "1s", "delivery_timeout": "1m"}}
	flag.IntVar(&o.n, "n", 10_000, "held messages (one portal, one window opening)")
	flag.IntVar(&o.concurrency, "c", 32, "concurrent action executions while loading the backlog")
	flag.DurationVar(&o.openAfter, "open-after", 0, "the window opens this long after the start; 0: 60 s + 60 ms per message, time to accept and hold them all on 2 busy cores")
	flag.IntVar(&o.hubspotLimit, "hubspot-limit", 110, "the fake HubSpot's calls per 10 s per portal (HubSpot's limit for an app: 110)")
	flag.Float64Var(&o.trickle, "trickle", 1, "new transactional sends per second of another portal while the backlog drains (open loop), for their accept latency; 0: none")
	flag.IntVar(&o.historySample, "history-sample", 200, "histories read for the events per message (0: every message)")
	flag.IntVar(&o.pool, "pool", 0, "PostgreSQL pool size of the stack (API and worker share it in this process); 0: the store's default")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Hour, "stop after this long, reporting how far the drain got")
	flag.DurationVar(&o.progress, "progress", 30*time.Second, "print progress this often while draining")
	flag.Var(o.env, "env", "a configuration override KEY=VALUE for the stack (repeatable), e.g. a jitter span")
	flag.Var(o.settings, "setting", "a portal setting KEY=VALUE (repeatable); default listen_after=1s delivery_timeout=1m")
	flag.Parse()
	if o.n <= 0 {
		log.Fatal("-n must be positive")
	}
	if o.openAfter == 0 {
		o.openAfter = 60*time.Second + time.Duration(o.n)*60*time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}

// paris is where the held messages go; the window opens at 08:00 on a Monday.
var paris = mustLoad("Europe/Paris")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		log.Fatal(err)
	}
	return l
}

func run(ctx context.Context, o options) error {
	addrs, err := benchstack.FromEnv()
	if err != nil {
		return err
	}
	tc, err := benchstack.Dial(addrs)
	if err != nil {
		return err
	}
	defer tc.Close()

	opening := time.Now().Add(o.openAfter)
	parisOpening := time.Date(2026, 11, 30, 8, 0, 0, 0, paris) // a Monday
	queue := "bench-held-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	settings := map[string]any{}
	for k, v := range o.settings {
		settings[k] = v
	}
	s, err := benchstack.Start(ctx, tc, addrs, o.pool, harness.Options{TaskQueue: queue, HubSpotRateLimit: o.hubspotLimit, ProductionSender: true,
		Settings: settings, Env: o.env, ComplianceClock: activities.ComplianceClock{Shift: parisOpening.Sub(opening)}})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.InstallPortal(ctx, tricklePortal, settings); err != nil {
		return err
	}
	b := &bench{o: o, s: s, tc: tc, ex: benchstack.NewExecutor(s.Stack), queue: queue, opening: opening}
	return b.run(ctx)
}

type bench struct {
	o       options
	s       *benchstack.Stack
	tc      client.Client
	ex      *benchstack.Executor
	queue   string
	opening time.Time

	callsBefore int // HubSpot calls of the stack's start
	memBase     memory
	memHeld     memory
	loadTook    time.Duration
	loadLatency []time.Duration
	peakRSS     atomic.Int64 // during the drain
}

type memory struct {
	benchstack.Memory
	heap uint64 // Go heap in use after a collection
}

func readMemory() memory {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m, err := benchstack.ReadMemory()
	if err != nil {
		log.Printf("memory: %v", err)
	}
	return memory{Memory: m, heap: ms.HeapInuse}
}

func heldCallback(i int) string    { return "held-" + strconv.Itoa(i) }
func trickleCallback(i int) string { return "trickle-" + strconv.Itoa(i) }

func (b *bench) run(ctx context.Context) error {
	b.callsBefore = len(b.s.HubSpot.Calls())
	b.memBase = readMemory()
	holdsBefore, err := benchstack.CounterSum("smsflow_message_holds_total", map[string]string{"reason": "window"})
	if err != nil {
		return err
	}
	fmt.Printf("held backlog: %d marketing messages of portal %d to France, window opens at %s (in %v), HubSpot limit %d calls / 10 s\n",
		b.o.n, harness.Portal, b.opening.Format(time.TimeOnly), time.Until(b.opening).Round(time.Second), b.o.hubspotLimit)
	if err := b.load(ctx); err != nil {
		return err
	}
	// Every message must be held before the window opens, else it is not a backlog waking at once.
	for {
		held, err := benchstack.CounterSum("smsflow_message_holds_total", map[string]string{"reason": "window"})
		if err != nil {
			return err
		}
		if int(held-holdsBefore) >= b.o.n {
			break
		}
		if time.Now().After(b.opening.Add(-time.Second)) {
			return fmt.Errorf("only %d of %d messages held before the window opened: raise -open-after (loading took %v)",
				int(held-holdsBefore), b.o.n, b.loadTook.Round(time.Second))
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.memHeld = readMemory()
	fmt.Printf("loaded in %v (%.0f accepts/s, accept p50 %v p99 %v at %d concurrent); all held; waiting %v for the opening\n",
		b.loadTook.Round(time.Second), float64(b.o.n)/b.loadTook.Seconds(), openloop.Quantile(b.loadLatency, 0.5).Round(100*time.Microsecond),
		openloop.Quantile(b.loadLatency, 0.99).Round(100*time.Microsecond), b.o.concurrency, time.Until(b.opening).Round(time.Second))
	select {
	case <-time.After(time.Until(b.opening)):
	case <-ctx.Done():
		return ctx.Err()
	}

	drainCtx, stopDrain := context.WithCancel(ctx)
	defer stopDrain()
	go b.sampleRSS(drainCtx)
	trickleDone := make(chan openloop.Result, 1)
	go func() { trickleDone <- b.trickle(drainCtx) }()
	d := b.drain(ctx)
	stopDrain()
	trickle := <-trickleDone
	return b.report(context.WithoutCancel(ctx), d, trickle)
}

// load accepts the backlog, c executions at a time.
func (b *bench) load(ctx context.Context) error {
	for i := range b.o.n {
		b.s.HubSpot.SetObject(harness.Portal, "contacts", strconv.Itoa(1_000_000+i), contactProps(i))
	}
	b.loadLatency = make([]time.Duration, b.o.n)
	start := time.Now()
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	sem := make(chan struct{}, b.o.concurrency)
	var wg sync.WaitGroup
	for i := range b.o.n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			t0 := time.Now()
			err := b.ex.Execute(ctx, harness.Portal, heldCallback(i), int64(1_000_000+i), contactProps(i), map[string]string{"country": "FR", "sender": "ACME",
				"message_type": "marketing", "message": "Hello {{contact.firstname}}, our new collection is in store.", "wait_for": "delivery"})
			b.loadLatency[i] = time.Since(t0)
			if err != nil {
				failed.Add(1)
				once.Do(func() { firstErr = err })
			}
		}()
	}
	wg.Wait()
	b.loadTook = time.Since(start)
	slices.Sort(b.loadLatency)
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d executions refused while loading, the first: %w", n, b.o.n, firstErr)
	}
	return nil
}

// contactProps are the properties HubSpot sends with the execution: an obviously fake French mobile.
func contactProps(i int) map[string]string {
	return map[string]string{"mobilephone": fmt.Sprintf("+3361%07d", i%10_000_000), "firstname": "Ana"}
}

// tricklePortal is another portal: its sends measure the accept latency during the drain without
// taking the held portal's HubSpot budget.
const tricklePortal = harness.Portal + 1

// trickle sends new transactional messages at the trickle rate until ctx ends.
func (b *bench) trickle(ctx context.Context) openloop.Result {
	if b.o.trickle <= 0 {
		<-ctx.Done()
		return openloop.Result{}
	}
	return openloop.Run(ctx, b.o.trickle, 0, 30*time.Second, func(ctx context.Context, i int) error {
		contact := 5_000_000 + i
		props := map[string]string{"mobilephone": fmt.Sprintf("+3362%07d", i%10_000_000), "firstname": "Ana"}
		b.s.HubSpot.SetObject(tricklePortal, "contacts", strconv.Itoa(contact), props)
		return b.ex.Execute(ctx, tricklePortal, trickleCallback(i), int64(contact), props, map[string]string{"country": "FR", "sender": "ACME",
			"message_type": "transactional", "message": "Hello {{contact.firstname}}, your parcel is on its way.", "wait_for": "delivery"})
	})
}

func (b *bench) sampleRSS(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		if m, err := benchstack.ReadMemory(); err == nil && m.RSS > b.peakRSS.Load() {
			b.peakRSS.Store(m.RSS)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// drained is how far the drain got.
type drained struct {
	completed     int            // held actions completed
	notDelivered  map[string]int // completions other than DELIVERED, by status/error code
	lastCompleted time.Time      // the last held action's completion, as polled
	synced        time.Time      // the HubSpot outbox empty after the last completion
	timedOut      bool
}

// drain waits for every held action's completion, then for the HubSpot outbox to empty.
func (b *bench) drain(ctx context.Context) drained {
	d := drained{notDelivered: map[string]int{}}
	pending := make([]int, b.o.n)
	for i := range pending {
		pending[i] = i
	}
	next := time.Now().Add(b.o.progress)
	for len(pending) > 0 {
		left := pending[:0]
		for _, i := range pending {
			done := b.s.HubSpot.Completed(heldCallback(i))
			if done == nil {
				left = append(left, i)
				continue
			}
			d.completed++
			d.lastCompleted = time.Now()
			if st := done.Outputs["sms_status"]; st != string(outcome.SMSDelivered) {
				d.notDelivered[st+" "+done.Outputs["error_code"]]++
			}
		}
		pending = left
		if len(pending) == 0 {
			break
		}
		if time.Now().After(next) {
			next = time.Now().Add(b.o.progress)
			b.printProgress(ctx, d.completed)
		}
		select {
		case <-ctx.Done():
			d.timedOut = true
			return d
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := b.s.HubSpotSynced(ctx); err != nil {
		d.timedOut = true
		return d
	}
	d.synced = time.Now()
	return d
}

func (b *bench) printProgress(ctx context.Context, completed int) {
	var pending int
	_ = b.s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM hubspot_outbox WHERE done_at IS NULL AND dead_at IS NULL`).Scan(&pending)
	calls, limited := 0, 0
	for _, c := range b.s.HubSpot.Calls()[b.callsBefore:] {
		if c.PortalID == harness.Portal {
			calls++
			if c.Status == 429 {
				limited++
			}
		}
	}
	since := time.Since(b.opening)
	fmt.Printf("  +%v: %d/%d completed (%.1f/s), %d HubSpot writes queued, %d HubSpot calls of the held portal (%d answered 429)\n",
		since.Round(time.Second), completed, b.o.n, float64(completed)/since.Seconds(), pending, calls, limited)
}

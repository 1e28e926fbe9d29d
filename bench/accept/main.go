// Command accept measures the API's accept latency at fixed arrival rates (open loop: requests
// leave on a schedule, whatever the answers' times, and each is measured from the instant it was
// due), with every accepted message running its full lifecycle on the same machine: the carrier
// simulator delivers, the fake HubSpot receives the writes and the completion. Per rate it reports
// p50/p90/p99, whether the stack kept up (actions completed at the arrival rate), and
// where the answer's time goes (the API's smsflow_action_accept_phase_seconds).
//
//	make bench-accept                                     (starts PostgreSQL and a dev server)
//	bin/devstack exec -- go run ./bench/accept -rates 10,20,30 -duration 30s
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"smsflow/bench/internal/benchstack"
	"smsflow/bench/internal/openloop"
	"smsflow/internal/harness"
	"smsflow/outcome"
)

type options struct {
	rates        []float64
	duration     time.Duration
	warmup       time.Duration
	drain        time.Duration
	hubspotLimit int
	pool         int
	listenAfter  time.Duration
}

func main() {
	var o options
	rates := flag.String("rates", "10,20,30", "arrival rates to measure, requests per second, comma-separated")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long each rate runs (more than twice a lifecycle's time: whether the stack kept up is judged on its second half)")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "a run at the first rate before measuring, not counted")
	flag.DurationVar(&o.drain, "drain", 3*time.Minute, "longest wait for a rate's lifecycles before the next rate")
	flag.IntVar(&o.hubspotLimit, "hubspot-limit", 0, "the fake HubSpot's calls per 10 s per portal (HubSpot: 110); 0: unlimited, so that HubSpot's budget does not decide what is measured")
	flag.IntVar(&o.pool, "pool", 0, "PostgreSQL pool size of the stack (API and worker share it in this process); 0: the store's default")
	flag.DurationVar(&o.listenAfter, "listen-after", time.Second, "the portal's listen_after: how long a delivered message stays open for replies")
	timeout := flag.Duration("timeout", 30*time.Minute, "stop the run after this long")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole process (API, worker, simulators) to this file")
	flag.Parse()
	for _, r := range strings.Split(*rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			log.Fatalf("-rates: %q is not a positive number", r)
		}
		o.rates = append(o.rates, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(ctx, o); err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
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
	s, err := benchstack.Start(ctx, tc, addrs, o.pool, harness.Options{
		TaskQueue:        "bench-accept-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		HubSpotRateLimit: o.hubspotLimit, ProductionSender: true,
		Settings: map[string]any{"listen_after": o.listenAfter.String(), "delivery_timeout": "1m"}})
	if err != nil {
		return err
	}
	defer s.Close()
	b := &bench{s: s, ex: benchstack.NewExecutor(s.Stack)}

	fmt.Printf("accept latency, open loop, full lifecycles (transactional, FR, wait for delivery), %v per rate, HubSpot limit %s\n",
		o.duration, limitText(o.hubspotLimit))
	if o.warmup > 0 {
		if _, err := b.phase(ctx, "warmup", o.rates[0], o.warmup, o); err != nil {
			return err
		}
	}
	var results []phaseResult
	for _, rate := range o.rates {
		r, err := b.phase(ctx, fmt.Sprintf("r%g", rate), rate, o.duration, o)
		if err != nil {
			return err
		}
		results = append(results, r)
		r.print()
	}
	summarize(results)
	return nil
}

type bench struct {
	s       *benchstack.Stack
	ex      *benchstack.Executor
	contact atomic.Int64
}

type phaseResult struct {
	rate       float64
	latency    openloop.Result
	delivered  int
	lifecycle  []time.Duration // from each accepted request's due instant to its action's completion, sorted
	doneRate   float64         // completions per second over the rate's second half
	drainAfter time.Duration   // from the end of the schedule to the last lifecycle done
	keptUp     bool
	phases     benchstack.Phases
}

// sent is an accepted request: its callback and when it was due.
type sent struct {
	callback string
	due      time.Time
}

// phase sends at rate for d while polling the completions, then waits for every accepted
// message's. The stack kept up when, over the rate's second half, actions completed at 90 % of the
// arrival rate or more: a stack past its capacity completes at its capacity and its backlog grows,
// whereas a slow but sufficient one only delays each completion.
func (b *bench) phase(ctx context.Context, name string, rate float64, d time.Duration, o options) (phaseResult, error) {
	before, err := benchstack.ReadPhases()
	if err != nil {
		return phaseResult{}, err
	}
	var mu sync.Mutex
	var accepted []sent
	start := time.Now()
	scheduled := make(chan openloop.Result, 1)
	go func() {
		scheduled <- openloop.Run(ctx, rate, d, 30*time.Second, func(ctx context.Context, i int) error {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			contact := 100000 + b.contact.Add(1)
			cb := fmt.Sprintf("accept-%s-%d", name, i)
			phone := fmt.Sprintf("+3361%07d", contact%10_000_000)
			props := map[string]string{"mobilephone": phone, "firstname": "Ana"}
			b.s.HubSpot.SetObject(harness.Portal, "contacts", strconv.FormatInt(contact, 10), props)
			err := b.ex.Execute(ctx, harness.Portal, cb, contact, props, map[string]string{"country": "FR", "sender": "ACME",
				"message_type": "transactional", "message": "Hello {{contact.firstname}}, your parcel is on its way.", "wait_for": "delivery"})
			if err == nil {
				mu.Lock()
				accepted = append(accepted, sent{cb, due})
				mu.Unlock()
			}
			return err
		})
	}()
	res := phaseResult{rate: rate}
	var pending []sent
	var completedAt []time.Time
	var lat openloop.Result
	var stopped time.Time
	schedulerDone := false
	for {
		if !schedulerDone {
			select {
			case lat = <-scheduled:
				schedulerDone, stopped = true, time.Now()
			default:
			}
		}
		mu.Lock()
		pending, accepted = append(pending, accepted...), accepted[:0]
		mu.Unlock()
		left := pending[:0]
		now := time.Now()
		for _, m := range pending {
			switch done := b.s.HubSpot.Completed(m.callback); {
			case done == nil:
				left = append(left, m)
			case done.Outputs["sms_status"] == string(outcome.SMSDelivered):
				res.delivered++
				completedAt = append(completedAt, now)
				res.lifecycle = append(res.lifecycle, now.Sub(m.due))
			default:
				return res, fmt.Errorf("%s completed with %v", m.callback, done.Outputs)
			}
		}
		pending = left
		if schedulerDone && len(pending) == 0 {
			break
		}
		if schedulerDone && time.Since(stopped) > o.drain || ctx.Err() != nil {
			return res, fmt.Errorf("rate %g/s: %d lifecycles not done %v after the rate stopped", rate, len(pending), o.drain)
		}
		time.Sleep(100 * time.Millisecond)
	}
	after, err := benchstack.ReadPhases()
	if err != nil {
		return phaseResult{}, err
	}
	res.latency, res.phases = lat, after.Since(before)
	if err := b.s.HubSpotSynced(ctx); err != nil {
		return res, err
	}
	res.drainAfter = time.Since(stopped)
	half := start.Add(d / 2)
	end := start.Add(d)
	inSecondHalf := 0
	for _, t := range completedAt {
		if !t.Before(half) && t.Before(end) {
			inSecondHalf++
		}
	}
	res.doneRate = float64(inSecondHalf) / (d / 2).Seconds()
	res.keptUp = res.doneRate >= 0.9*rate
	slices.Sort(res.lifecycle)
	return res, nil
}

func (r phaseResult) print() {
	l := r.latency
	fmt.Printf("\n%g/s: %d sent, %d refused, %d delivered; accept p50 %v  p90 %v  p99 %v  max %v (scheduler lag ≤ %v)\n",
		r.rate, l.Sent, l.Errors, r.delivered, ms(l.Quantile(0.5)), ms(l.Quantile(0.9)), ms(l.Quantile(0.99)), ms(l.Quantile(1)), ms(l.Lag))
	fmt.Printf("  actions completed at %.1f/s over the rate's second half: %s; lifecycle (due → action completed) p50 %v p99 %v; last done %v after the rate stopped\n",
		r.doneRate, map[bool]string{true: "kept up", false: "fell behind"}[r.keptUp], openloop.Quantile(r.lifecycle, 0.5).Round(10*time.Millisecond),
		openloop.Quantile(r.lifecycle, 0.99).Round(10*time.Millisecond), r.drainAfter.Round(100*time.Millisecond))
	fmt.Printf("  where an accept's time goes (server side, from the API's histogram; p99 is a bucket bound):\n%s", r.phases)
	var inHandler time.Duration
	for _, h := range r.phases {
		inHandler += h.Mean()
	}
	var sum time.Duration
	for _, v := range l.Latencies {
		sum += v
	}
	if len(l.Latencies) > 0 {
		mean := sum / time.Duration(len(l.Latencies))
		fmt.Printf("    outside the handler's steps (HTTP, routing, client, waiting for a CPU): mean %v of the mean %v\n",
			ms(max(mean-inHandler, 0)), ms(mean))
	}
}

// summarize names the highest rate the stack kept up with, and the p99 at 80 % of it.
func summarize(results []phaseResult) {
	fmt.Printf("\n%-8s %-8s %-8s %-8s %-10s %-12s %s\n", "rate/s", "p50", "p90", "p99", "kept up", "completed/s", "drain")
	best := 0.0
	for _, r := range results {
		fmt.Printf("%-8g %-8v %-8v %-8v %-10v %-12.1f %v\n", r.rate, ms(r.latency.Quantile(0.5)), ms(r.latency.Quantile(0.9)),
			ms(r.latency.Quantile(0.99)), r.keptUp, r.doneRate, r.drainAfter.Round(100*time.Millisecond))
		if r.keptUp && r.rate > best {
			best = r.rate
		}
	}
	if best == 0 {
		fmt.Println("the stack kept up with none of these rates: try lower ones")
		return
	}
	target := 0.8 * best
	var at *phaseResult
	for i := range results {
		if r := &results[i]; r.rate <= target && (at == nil || r.rate > at.rate) {
			at = r
		}
	}
	fmt.Printf("highest rate kept up with among those tried: %g/s; 80 %% of it: %.3g/s\n", best, target)
	if at == nil {
		fmt.Printf("no rate tried at or below %.3g/s: add one to -rates for the p99 target (≤ 25 ms)\n", target)
		return
	}
	p99 := at.latency.Quantile(0.99)
	verdict := "meets"
	if p99 > 25*time.Millisecond {
		verdict = "misses"
	}
	fmt.Printf("p99 at %g/s (the highest tried at or below it): %v — %s the target of 25 ms\n", at.rate, ms(p99), verdict)
}

func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

func limitText(n int) string {
	if n <= 0 {
		return "off"
	}
	return fmt.Sprintf("%d calls / 10 s", n)
}

// Package openloop sends requests at a fixed arrival rate, whatever the answers' times, and measures
// each answer from the instant its request was due: a slow answer neither delays the next request
// nor hides its own wait (no coordinated omission, unlike N workers sending back to back).
package openloop

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Result is what one run measured.
type Result struct {
	Sent      int
	Errors    int
	Latencies []time.Duration // from each request's due instant to its answer, sorted; errors included
	// Lag is how late the scheduler itself started the latest request (a saturated client
	// machine shows here, not as server latency).
	Lag time.Duration
}

// Quantile is the q-th (0..1) latency by nearest rank; 0 with no requests.
func (r Result) Quantile(q float64) time.Duration {
	return Quantile(r.Latencies, q)
}

// Quantile is the q-th (0..1) value of sorted by nearest rank; 0 when empty.
func Quantile[T any](sorted []T, q float64) T {
	var zero T
	if len(sorted) == 0 {
		return zero
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Run calls send with 0, 1, 2, … at rate per second, each in its own goroutine at its due instant,
// for d (0: until ctx ends), and waits for the calls in flight. A call's context outlives ctx by up
// to grace so that stopping the schedule does not cut off requests already sent.
func Run(ctx context.Context, rate float64, d, grace time.Duration, send func(ctx context.Context, i int) error) Result {
	start := time.Now()
	callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var (
		mu  sync.Mutex
		res Result
		wg  sync.WaitGroup
	)
	interval := time.Duration(float64(time.Second) / rate)
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d > 0 && !due.Before(start.Add(d)) {
			break
		}
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		res.Lag = max(res.Lag, time.Since(due))
		res.Sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := send(callCtx, i)
			took := time.Since(due)
			mu.Lock()
			res.Latencies = append(res.Latencies, took)
			if err != nil {
				res.Errors++
			}
			mu.Unlock()
		}()
	}
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(grace, cancel)
	})
	defer stop()
	wg.Wait()
	slices.Sort(res.Latencies)
	return res
}

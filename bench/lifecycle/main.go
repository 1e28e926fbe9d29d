// Command lifecycle measures, in one run against one Temporal server, the rate of a bare workflow
// (three trivial activities) and of the full SMS lifecycle through the API (fake HubSpot executes
// signed actions, the carrier simulator delivers), with API accept latency and history sizes.
//
//	make bench-lifecycle            (starts PostgreSQL and a dev server, then runs this)
//	bin/devstack exec -- go run ./bench/lifecycle -n 400 -c 40
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"smsflow/bench/internal/benchstack"
	"smsflow/internal/harness"
	"smsflow/outcome"
	"smsflow/workflows"
)

func main() {
	n := flag.Int("n", 300, "messages (and bare workflows) per phase")
	c := flag.Int("c", 30, "concurrent starts")
	flag.Parse()
	addrs, err := benchstack.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	tc, err := benchstack.Dial(addrs)
	if err != nil {
		log.Fatal(err)
	}
	defer tc.Close()
	ctx := context.Background()

	bareRate, bareEvents := bare(ctx, tc, *n, *c)
	fmt.Printf("bare workflow (3 trivial activities): %d in all, %.1f workflows/s, %d history events each\n", *n, bareRate, bareEvents)

	full, err := lifecycle(ctx, tc, addrs, *n, *c)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("full SMS lifecycle through the API:   %d in all, %.1f messages/s, %d history events each (delivered)\n", *n, full.rate, full.events)
	fmt.Printf("API accept latency: p50 %v, p99 %v\n", full.p50, full.p99)
	fmt.Printf("ratio full / bare: %.2f\n", full.rate/bareRate)
}

// bareWorkflow is the baseline: three activities that do nothing.
func bareWorkflow(ctx workflow.Context, in string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for i := 0; i < 3; i++ {
		if err := workflow.ExecuteActivity(ctx, echo, in).Get(ctx, &in); err != nil {
			return "", err
		}
	}
	return in, nil
}

func echo(_ context.Context, s string) (string, error) { return s, nil }

func bare(ctx context.Context, tc client.Client, n, c int) (float64, int) {
	queue := "bench-bare-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	w := worker.New(tc, queue, worker.Options{})
	w.RegisterWorkflow(bareWorkflow)
	w.RegisterActivityWithOptions(echo, activity.RegisterOptions{Name: "echo"})
	if err := w.Start(); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	parallel(n, c, func(i int) {
		id := fmt.Sprintf("%s-%d", queue, i)
		run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, bareWorkflow, "x")
		if err != nil {
			log.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			log.Fatal(err)
		}
	})
	rate := float64(n) / time.Since(start).Seconds()
	return rate, historyLength(ctx, tc, fmt.Sprintf("%s-%d", queue, n-1))
}

type fullResult struct {
	rate     float64
	events   int
	p50, p99 time.Duration
}

func lifecycle(ctx context.Context, tc client.Client, addrs benchstack.Addresses, n, c int) (fullResult, error) {
	s, err := benchstack.Start(ctx, tc, addrs, 0, harness.Options{
		TaskQueue: "bench-sms-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Settings:  map[string]any{"listen_after": "1s", "delivery_timeout": "1m"}})
	if err != nil {
		return fullResult{}, err
	}
	defer s.Close()
	for i := 0; i < n; i++ {
		s.HubSpot.SetObject(harness.Portal, "contacts", strconv.Itoa(1000+i),
			map[string]string{"mobilephone": fmt.Sprintf("+3361%07d", i), "firstname": "Ana"})
	}
	latencies := make([]time.Duration, n)
	start := time.Now()
	var mu sync.Mutex
	pending := map[string]bool{}
	parallel(n, c, func(i int) {
		cb := fmt.Sprintf("bench-%d", i)
		t0 := time.Now()
		if _, err := s.Execute(ctx, cb, "CONTACT", int64(1000+i), map[string]string{"country": "FR", "sender": "ACME",
			"message_type": "transactional", "message": "Hello {{contact.firstname}}, your parcel is on its way.", "wait_for": "delivery"}); err != nil {
			log.Fatal(err)
		}
		latencies[i] = time.Since(t0)
		mu.Lock()
		pending[cb] = true
		mu.Unlock()
	})
	deadline := time.Now().Add(10 * time.Minute)
	for {
		mu.Lock()
		for cb := range pending {
			if done := s.HubSpot.Completed(cb); done != nil {
				if done.Outputs["sms_status"] != string(outcome.SMSDelivered) {
					return fullResult{}, fmt.Errorf("%s completed with %v", cb, done.Outputs)
				}
				delete(pending, cb)
			}
		}
		left := len(pending)
		mu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fullResult{}, fmt.Errorf("%d messages not completed after 10 minutes", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res := fullResult{rate: float64(n) / time.Since(start).Seconds()}
	slices.Sort(latencies)
	res.p50, res.p99 = latencies[n/2], latencies[min(n-1, n*99/100)]
	// History of a delivered message, once its run has closed.
	id := workflows.SMSWorkflowID(workflows.MessageIDForCallback(harness.Portal, "bench-0"))
	if err := tc.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		return fullResult{}, err
	}
	res.events = historyLength(ctx, tc, id)
	return res, nil
}

func parallel(n, c int, f func(i int)) {
	sem := make(chan struct{}, c)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}

func historyLength(ctx context.Context, tc client.Client, id string) int {
	events, err := benchstack.History(ctx, tc, id)
	if err != nil {
		log.Fatal(err)
	}
	return len(events)
}

package openloop

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A server that answers slowly does not slow the schedule, and its wait is counted from each
// request's due instant.
func TestRunKeepsTheScheduleAndCountsFromDue(t *testing.T) {
	res := Run(context.Background(), 100, 200*time.Millisecond, time.Second, func(ctx context.Context, i int) error {
		time.Sleep(50 * time.Millisecond)
		if i == 3 {
			return errors.New("refused")
		}
		return nil
	})
	if res.Sent != 20 || len(res.Latencies) != 20 || res.Errors != 1 {
		t.Fatalf("sent %d, latencies %d, errors %d: want 20, 20, 1", res.Sent, len(res.Latencies), res.Errors)
	}
	if res.Quantile(0) < 50*time.Millisecond || res.Quantile(1) > 500*time.Millisecond {
		t.Fatalf("latencies %v .. %v: want each at least the server's 50 ms", res.Quantile(0), res.Quantile(1))
	}
}

// Ending the context stops the schedule; the run returns the requests sent so far.
func TestRunUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	res := Run(ctx, 50, 0, time.Second, func(context.Context, int) error { return nil })
	if res.Sent < 4 || res.Sent > 8 {
		t.Fatalf("sent %d in 120 ms at 50/s", res.Sent)
	}
}

func TestQuantile(t *testing.T) {
	v := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want int
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {0, 1}, {1, 10}} {
		if got := Quantile(v, tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %d, want %d", tc.q, got, tc.want)
		}
	}
	if Quantile([]int(nil), 0.5) != 0 {
		t.Error("empty quantile not 0")
	}
}

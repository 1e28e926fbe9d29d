package signalbox_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/payloadcodec/codectest"
	"smsflow/signalbox"
	"smsflow/store"
	"smsflow/workflows"
)

type env struct {
	t  *testing.T
	db *store.Store
	tc client.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := testenv.Store(t)
	return &env{t: t, db: db, tc: testenv.Temporal(t)}
}

// workflow starts a run with the message's workflow id on a task queue no worker polls: it only
// accumulates the signals it gets.
func (e *env) workflow() string {
	e.t.Helper()
	id := uuid.NewString()
	wid := workflows.SMSWorkflowID(id)
	if _, err := e.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: wid,
		TaskQueue: "signalbox-test-" + testenv.RandomID(), WorkflowRunTimeout: 10 * time.Minute}, "SignalRecorder"); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.tc.TerminateWorkflow(context.Background(), wid, "", "test over") })
	return id
}

// owe stores a delivered report of message owing its signal, due at once (as after a failed fast path).
func (e *env) owe(messageID, eventID string) int64 {
	e.t.Helper()
	ctx := context.Background()
	payload, _ := json.Marshal(workflows.CarrierReport{EventID: eventID, Carrier: "sim", Status: outcome.ReportDelivered,
		OccurredAt: time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)})
	var st store.StoredInbound
	err := e.db.InTx(ctx, func(tx *store.Tx) (err error) {
		st, err = tx.AddInbound(ctx, store.Inbound{Event: store.Event{MessageID: &messageID, Source: "sim", SourceEventID: eventID,
			Kind: "delivery", Status: "delivered", OccurredAt: time.Now()},
			Signal: &store.Signal{Name: workflows.SignalCarrierReport, Payload: payload}}, time.Minute)
		return err
	})
	if err == nil {
		err = e.db.ReleaseSignal(ctx, st.Seq, 0, false)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Seq
}

// reports lists the event ids of the carrier reports in the workflow's history, in order.
func (e *env) reports(messageID string) []workflows.CarrierReport {
	e.t.Helper()
	it := e.tc.GetWorkflowHistory(context.Background(), workflows.SMSWorkflowID(messageID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []workflows.CarrierReport
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			e.t.Fatal(err)
		}
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == workflows.SignalCarrierReport {
			var r workflows.CarrierReport
			if err := codectest.DataConverter().FromPayloads(a.GetInput(), &r); err != nil {
				e.t.Fatal(err)
			}
			out = append(out, r)
		}
	}
	return out
}

func (e *env) result(seq int64) string {
	var r *string
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT signal_result FROM message_events WHERE seq = $1`, seq).Scan(&r); err != nil {
		e.t.Fatal(err)
	}
	if r == nil {
		return ""
	}
	return *r
}

var quiet = slog.New(slog.DiscardHandler)

// Three sweepers racing over 40 owed signals of 10 workflows deliver each exactly once, with the
// payload the workflow expects; a message's signals arrive in the order stored (which racing
// sweepers keep as long as a claim takes whole messages).
func TestSweepersDeliverEachSignalOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var messages []string
	for range 10 {
		messages = append(messages, e.workflow())
	}
	for i := range 4 {
		for _, m := range messages {
			e.owe(m, m+":report:"+string(rune('a'+i)))
		}
	}
	var wg sync.WaitGroup
	for range 3 {
		box := signalbox.New(e.db, signalbox.ClientSignaller{Client: e.tc, DataConverter: codectest.DataConverter()}, quiet, signalbox.Options{Batch: 7, Parallel: 3})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := box.Sweep(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, m := range messages {
		got := e.reports(m)
		if len(got) != 4 {
			t.Fatalf("message %s got %d reports, want 4", m, len(got))
		}
		for i, r := range got {
			if want := m + ":report:" + string(rune('a'+i)); r.EventID != want || r.Status != outcome.ReportDelivered ||
				!r.OccurredAt.Equal(time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)) {
				t.Fatalf("report %d = %+v, want %s as stored", i, r, want)
			}
		}
	}
	if n, err := e.db.OwedSignals(ctx); err != nil || n != 0 {
		t.Fatalf("owed after the sweep = %d %v", n, err)
	}
}

// Temporal unreachable: the signal is given back with a backoff and counted as failed; once
// Temporal answers it is delivered. A workflow that is gone ends its signal as gone.
func TestSweepRetriesThenDelivers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	live, gone := e.workflow(), e.workflow()
	if err := e.tc.TerminateWorkflow(ctx, workflows.SMSWorkflowID(gone), "", "finished"); err != nil {
		t.Fatal(err)
	}
	liveSeq, goneSeq := e.owe(live, "SMlive"), e.owe(gone, "SMgone")

	down, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	broken := signalbox.New(e.db, signalbox.ClientSignaller{Client: down}, quiet, signalbox.Options{SignalTimeout: 300 * time.Millisecond})
	start := time.Now()
	if n, err := broken.Sweep(ctx); n != 2 || err == nil {
		t.Fatalf("sweep with Temporal down = %d %v, want 2 claimed and an error", n, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a sweep with Temporal down took %v: it should stop at the first failure", d)
	}
	var attempts int
	var dueIn float64
	if err := e.db.Pool.QueryRow(ctx, `SELECT max(signal_attempts), min(extract(epoch FROM signal_due_at - now())) FROM message_events
		WHERE seq = ANY($1)`, []int64{liveSeq, goneSeq}).Scan(&attempts, &dueIn); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || dueIn <= 0 || dueIn > 1.5 {
		t.Fatalf("after the failure: attempts %d, due in %.2fs; want 1 failed try, due within a backoff of 1 s", attempts, dueIn)
	}
	if n, _ := signalbox.New(e.db, signalbox.ClientSignaller{Client: e.tc, DataConverter: codectest.DataConverter()}, quiet, signalbox.Options{}).Sweep(ctx); n != 0 {
		t.Fatalf("a sweep before the backoff took %d signals", n)
	}
	time.Sleep(1200 * time.Millisecond)
	if _, err := signalbox.New(e.db, signalbox.ClientSignaller{Client: e.tc, DataConverter: codectest.DataConverter()}, quiet, signalbox.Options{}).Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.reports(live); len(got) != 1 || got[0].EventID != "SMlive" {
		t.Fatalf("live workflow got %+v, want its report once", got)
	}
	if r := e.result(liveSeq); r != store.SignalDelivered {
		t.Fatalf("live signal result %q", r)
	}
	if r := e.result(goneSeq); r != store.SignalGone {
		t.Fatalf("gone workflow's signal result %q, want %q", r, store.SignalGone)
	}
}

// Run keeps sweeping: a signal owed while it runs is delivered within a poll or two.
func TestRunDeliversWhatArrives(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = signalbox.New(e.db, signalbox.ClientSignaller{Client: e.tc, DataConverter: codectest.DataConverter()}, quiet, signalbox.Options{PollInterval: 100 * time.Millisecond}).Run(ctx)
		close(done)
	}()
	m := e.workflow()
	e.owe(m, "SMrun")
	deadline := time.Now().Add(10 * time.Second)
	for len(e.reports(m)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if got := e.reports(m); len(got) != 1 {
		t.Fatalf("reports %+v, want one", got)
	}
}

// A signal tried again after Temporal took it but the answer was lost (here: its mark undone) is
// not applied twice: the request id is the event's, and Temporal takes a request id once.
func TestRepeatedSignalAppliedOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.workflow()
	seq := e.owe(m, "SMrepeat")
	box := signalbox.New(e.db, signalbox.ClientSignaller{Client: e.tc, DataConverter: codectest.DataConverter()}, quiet, signalbox.Options{})
	for range 3 {
		if n, err := box.Sweep(ctx); n != 1 || err != nil {
			t.Fatalf("sweep = %d %v", n, err)
		}
		if _, err := e.db.Pool.Exec(ctx, `UPDATE message_events SET signalled_at = NULL, signal_due_at = now() WHERE seq = $1`, seq); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.reports(m); len(got) != 1 {
		t.Fatalf("the workflow got the report %d times, want once", len(got))
	}
}

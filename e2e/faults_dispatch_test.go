package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"smsflow/carrier/sim"
	"smsflow/config"
	"smsflow/internal/harness"
	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/workflows"
)

// The worker process is killed (SIGKILL) three times while 50 messages dispatch, each time while
// the carrier is answering a send, and restarted: every message reaches the carrier exactly once
// (counted by our reference), every HubSpot action completes, none stays PENDING.
func TestWorkerKilledWhileDispatching(t *testing.T) {
	const messages, kills = 50, 3
	k := newKillStack(t)
	w := k.startWorker(0)
	start := time.Now()

	// The actions arrive over about six seconds; the worker is killed at about 1.5, 3.5 and 5.5
	// seconds, each time once a send is in flight at the carrier, and restarted at once.
	sent := k.sendAll(messages, 120*time.Millisecond)
	var inFlightAtKills []int
	for n := range kills {
		time.Sleep(time.Until(start.Add(time.Duration(1500+2000*n) * time.Millisecond)))
		inFlightAtKills = append(inFlightAtKills, waitInFlight(k.Sim, 10*time.Second))
		w.kill(t)
		w = k.startWorker(n + 1)
	}
	<-sent

	// Every action completes (Dispatch activities of a killed worker are retried once their
	// 30 s start-to-close timeout passes).
	r := k.await(messages, 100*time.Second)
	t.Logf("kills %d (sends in flight at each: %v), messages %d, %s, duration %s", kills, inFlightAtKills, messages, r,
		time.Since(start).Round(100*time.Millisecond))
	r.check(t, messages)
	if t.Failed() {
		w.dumpLogs(t)
	}
}

// A deploy stops the worker (SIGTERM) while sends are in flight: it lets them finish (the
// WORKER_STOP_TIMEOUT grace), so every message is sent once and no attempt is left for a lookup
// to settle.
func TestWorkerStopsGracefullyWhileDispatching(t *testing.T) {
	const messages = 20
	k := newKillStack(t)
	w := k.startWorker(0)
	start := time.Now()
	sent := k.sendAll(messages, 100*time.Millisecond)
	time.Sleep(time.Second)
	inFlight := waitInFlight(k.Sim, 10*time.Second)
	stopping := time.Now()
	w.stop(t)
	stopTook := time.Since(stopping)
	w = k.startWorker(1)
	<-sent

	r := k.await(messages, 60*time.Second)
	t.Logf("SIGTERM with %d sends in flight, stopped in %s; messages %d, %s, duration %s", inFlight, stopTook.Round(10*time.Millisecond),
		messages, r, time.Since(start).Round(100*time.Millisecond))
	r.check(t, messages)
	if inFlight == 0 || r.lookups != 0 || len(r.attempts) != 1 {
		t.Errorf("%d sends in flight at the stop, %d lookups, attempts %v: want the calls in flight finished by the stopping worker, "+
			"none left to settle", inFlight, r.lookups, r.attempts)
	}
	if t.Failed() {
		w.dumpLogs(t)
	}
}

// killStack is a whole smsflow whose worker is the real binary, run and killed by the test,
// with a simulator that answers each send after 400 ms so that stops land with calls in flight.
type killStack struct {
	*stack
	t   *testing.T
	bin string
	env map[string]string
	run string // distinguishes this test's callback ids
}

func newKillStack(t *testing.T) *killStack {
	bin := buildWorker(t)
	tc := testenv.Temporal(t)
	h, err := harness.Start(context.Background(), tc, harness.Options{DatabaseURL: testenv.Database(t),
		TemporalAddress: os.Getenv("TEMPORAL_ADDRESS"), TaskQueue: "e2e-kill-" + testenv.RandomID(),
		Sim: sim.Options{Slow: 1, SlowDelay: 400 * time.Millisecond}, ExternalWorker: true,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	env := map[string]string{"SMSFLOW_ENV": config.Development}
	for k, v := range h.Env {
		env[k] = v
	}
	return &killStack{stack: &stack{Stack: h, t: t, tc: tc, db: h.DB, hubspot: h.HubSpot, sim: h.Sim, apiURL: h.APIURL},
		t: t, bin: bin, env: env, run: testenv.RandomID()}
}

func (k *killStack) startWorker(n int) *workerProcess { return startWorker(k.t, k.bin, k.env, n) }

// sendAll plays HubSpot executing the action for n contacts, one every interval; the channel
// closes when all are accepted.
func (k *killStack) sendAll(n int, interval time.Duration) <-chan struct{} {
	for i := range n {
		contact(k.stack, fmt.Sprint(1000+i), fmt.Sprintf("+336123456%02d", i))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if _, err := k.Execute(context.Background(), k.callbackOf(i), "CONTACT", int64(1000+i), inputs("message", "Your parcel is on its way.")); err != nil {
				k.t.Errorf("action %d: %v", i, err)
			}
			time.Sleep(interval)
		}
	}()
	return done
}

// killResult is what the carrier, HubSpot and the attempt records saw of n messages.
type killResult struct {
	requests, taken, duplicates, simDuplicates, missing, uncertain, notCompleted, pending, lookups int
	attempts                                                                                       map[string]int
}

func (r killResult) String() string {
	return fmt.Sprintf("send requests %d, taken %d, duplicates %d (simulator dedup %d), missing %d, uncertain %d, "+
		"not completed %d, pending %d, lookups %d, attempts %v", r.requests, r.taken, r.duplicates, r.simDuplicates, r.missing,
		r.uncertain, r.notCompleted, r.pending, r.lookups, r.attempts)
}

// await waits (at most max) for the n actions to complete and counts what happened.
func (k *killStack) await(n int, max time.Duration) killResult {
	deadline := time.Now().Add(max)
	for i := range n {
		for k.hubspot.Completed(k.callbackOf(i)) == nil && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	var r killResult
	for i := range n {
		cb := k.callbackOf(i)
		c := k.hubspot.Completed(cb)
		switch {
		case c == nil:
			r.notCompleted++
		case c.Outputs["sms_status"] == string(outcome.Pending) || c.Outputs["sms_status"] == "":
			r.pending++
		case c.Outputs["error_code"] == string(outcome.SendUncertain):
			r.uncertain++
		}
		switch sends := k.Sim.Sends(workflows.MessageIDForCallback(portal, cb)); {
		case sends == 0:
			r.missing++
		case sends > 1:
			r.duplicates += sends - 1
		}
	}
	st := k.Sim.Stats()
	r.requests, r.taken, r.simDuplicates, r.lookups = st.SendRequests, st.Accepted, st.Duplicates, st.Lookups
	r.attempts = attemptStates(k.t, k.stack)
	return r
}

// check asserts every message reached the carrier exactly once, every action completed past
// PENDING, none uncertain, and every attempt record ended accepted or given up.
func (r killResult) check(t *testing.T, n int) {
	t.Helper()
	if r.duplicates != 0 || r.simDuplicates != 0 || r.missing != 0 || r.taken != n {
		t.Errorf("the carrier received duplicates %d (its dedup saw %d), missed %d, took %d of %d: want every message exactly once",
			r.duplicates, r.simDuplicates, r.missing, r.taken, n)
	}
	if r.notCompleted != 0 || r.pending != 0 {
		t.Errorf("%d actions not completed, %d completed PENDING; want all completed past PENDING", r.notCompleted, r.pending)
	}
	if r.uncertain != 0 {
		t.Errorf("%d messages SEND_UNCERTAIN; the simulator can be asked, so none should be", r.uncertain)
	}
	if r.attempts["prepared"] != 0 || r.attempts["sending"] != 0 || r.attempts["uncertain"] != 0 || r.attempts["accepted"] != n {
		t.Errorf("dispatch attempts %v: want %d accepted and none left open", r.attempts, n)
	}
}

// callbackOf is the callback id of the i-th action: unique per test, since the message's
// workflow id derives from it and a closed workflow of the same id answers a retry.
func (k *killStack) callbackOf(i int) string { return fmt.Sprintf("cb-kill-%s-%02d", k.run, i) }

// waitInFlight waits (at most max) until the simulator holds a send it has not answered, and
// returns how many it holds.
func waitInFlight(s *sim.Sim, max time.Duration) int {
	for end := time.Now().Add(max); ; time.Sleep(5 * time.Millisecond) {
		st := s.Stats()
		if n := st.SendRequests - st.Accepted - st.Duplicates - st.Rejected - st.Injected5xx; n > 0 || time.Now().After(end) {
			return n
		}
	}
}

// attemptStates counts the dispatch attempts by state.
func attemptStates(t *testing.T, s *stack) map[string]int {
	t.Helper()
	rows, err := s.db.Pool.Query(context.Background(), `SELECT state, count(*) FROM dispatch_attempts GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			t.Fatal(err)
		}
		out[state] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// buildWorker builds cmd/worker into the test's temporary directory.
func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/worker")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/worker: %v\n%s", err, out)
	}
	return bin
}

// workerProcess is one run of the worker binary.
type workerProcess struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startWorker runs the worker binary with env only; its log goes to a file of the test. The
// last one started is stopped gracefully (SIGTERM) when the test ends.
func startWorker(t *testing.T, bin string, env map[string]string, n int) *workerProcess {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), fmt.Sprintf("worker-%d.log", n))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProcess{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(w.done) }()
	t.Cleanup(func() {
		select {
		case <-w.done:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(45 * time.Second):
			_ = cmd.Process.Kill()
			<-w.done
		}
	})
	return w
}

// stop ends the process as a deploy does (SIGTERM) and waits for it to exit.
func (w *workerProcess) stop(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(45 * time.Second):
		t.Fatal("the worker did not stop within 45 s of SIGTERM")
	}
}

// kill ends the process with SIGKILL, as a crash or an OOM kill would.
func (w *workerProcess) kill(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-w.done
}

// dumpLogs prints the end of the worker's log.
func (w *workerProcess) dumpLogs(t *testing.T) {
	raw, _ := os.ReadFile(w.log)
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	t.Logf("last worker's log:\n%s", strings.TrimSpace(string(bytes.Join(lines, []byte("\n")))))
}

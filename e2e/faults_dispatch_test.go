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
	"sync"
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
// (counted by our reference), every HubSpot action completes, none stays PENDING. The simulator
// answers each send after 400 ms, so kills land with requests in flight.
func TestWorkerKilledWhileDispatching(t *testing.T) {
	const messages, kills = 50, 3
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
	s := &stack{Stack: h, t: t, tc: tc, db: h.DB, hubspot: h.HubSpot, sim: h.Sim, apiURL: h.APIURL}
	for i := range messages {
		contact(s, fmt.Sprint(1000+i), fmt.Sprintf("+336123456%02d", i))
	}
	env := map[string]string{"SMSFLOW_ENV": config.Development}
	for k, v := range h.Env {
		env[k] = v
	}
	w := startWorker(t, bin, env, 0)
	start := time.Now()

	// The actions arrive over about six seconds; the worker is killed at about 1.5, 3.5 and 5.5
	// seconds, each time once a send is in flight at the carrier, and restarted at once.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range messages {
			if _, err := s.Execute(context.Background(), callbackOf(i), "CONTACT", int64(1000+i), inputs("message", "Your parcel is on its way.")); err != nil {
				t.Errorf("action %d: %v", i, err)
			}
			time.Sleep(120 * time.Millisecond)
		}
	}()
	var inFlightAtKills []int
	for k := range kills {
		time.Sleep(time.Until(start.Add(time.Duration(1500+2000*k) * time.Millisecond)))
		n := waitInFlight(h.Sim, 10*time.Second)
		w.kill(t)
		inFlightAtKills = append(inFlightAtKills, n)
		w = startWorker(t, bin, env, k+1)
	}
	wg.Wait()

	// Every action completes (Dispatch activities of a killed worker are retried once their
	// 30 s start-to-close timeout passes).
	deadline := time.Now().Add(100 * time.Second)
	for i := range messages {
		for s.hubspot.Completed(callbackOf(i)) == nil && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	took := time.Since(start)

	var notCompleted, pending, uncertain, missing, duplicates int
	for i := range messages {
		cb := callbackOf(i)
		id := workflows.MessageIDForCallback(portal, cb)
		c := s.hubspot.Completed(cb)
		switch {
		case c == nil:
			notCompleted++
		case c.Outputs["sms_status"] == string(outcome.Pending) || c.Outputs["sms_status"] == "":
			pending++
		}
		if c != nil && c.Outputs["error_code"] == string(outcome.SendUncertain) {
			uncertain++
		}
		switch n := h.Sim.Sends(id); {
		case n == 0:
			missing++
		case n > 1:
			duplicates += n - 1
		}
	}
	states := attemptStates(t, s)
	st := h.Sim.Stats()
	t.Logf("kills %d (sends in flight at each: %v), messages %d, send requests %d, taken %d, duplicates %d (simulator dedup %d), "+
		"missing %d, uncertain %d, not completed %d, pending %d, lookups %d, attempts %v, duration %s",
		kills, inFlightAtKills, messages, st.SendRequests, st.Accepted, duplicates, st.Duplicates, missing, uncertain,
		notCompleted, pending, st.Lookups, states, took.Round(100*time.Millisecond))
	if duplicates != 0 || st.Duplicates != 0 || missing != 0 || st.Accepted != messages {
		t.Errorf("the carrier received duplicates %d (its dedup saw %d), missed %d, took %d of %d: want every message exactly once",
			duplicates, st.Duplicates, missing, st.Accepted, messages)
	}
	if notCompleted != 0 || pending != 0 {
		t.Errorf("%d actions not completed, %d completed PENDING; want all completed past PENDING", notCompleted, pending)
	}
	if uncertain != 0 {
		t.Errorf("%d messages SEND_UNCERTAIN; the simulator can be asked, so none should be", uncertain)
	}
	if states["prepared"] != 0 || states["sending"] != 0 || states["uncertain"] != 0 || states["accepted"] != messages {
		t.Errorf("dispatch attempts %v: want %d accepted and none left open", states, messages)
	}
	if t.Failed() {
		w.dumpLogs(t)
	}
}

func callbackOf(i int) string { return fmt.Sprintf("cb-kill-%02d", i) }

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

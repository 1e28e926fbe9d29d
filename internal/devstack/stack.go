package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"smsflow/store"
	"smsflow/workflows"
)

// Exec starts PostgreSQL (unless DATABASE_URL is set) and a headless Temporal dev server (unless
// TEMPORAL_ADDRESS is set), runs args with both exported, stops them and returns args' exit code.
func Exec(ctx context.Context, out io.Writer, args []string) int {
	root, err := TempDir("smsflow-stack-")
	if err != nil {
		fmt.Fprintln(out, "devstack:", err)
		return 1
	}
	defer os.RemoveAll(root)
	env := os.Environ()
	if os.Getenv("DATABASE_URL") == "" {
		pg, err := StartPostgres(ctx, filepath.Join(root, "pg"), 0)
		if err != nil {
			fmt.Fprintln(out, err)
			return 1
		}
		defer pg.Stop()
		env = append(env, "DATABASE_URL="+pg.URL)
		fmt.Fprintf(out, "devstack: PostgreSQL on 127.0.0.1:%d\n", pg.Port)
	}
	if os.Getenv("TEMPORAL_ADDRESS") == "" {
		logFile, err := os.Create(filepath.Join(root, "temporal.log"))
		if err != nil {
			fmt.Fprintln(out, "devstack:", err)
			return 1
		}
		defer logFile.Close()
		t, err := StartTemporal(ctx, TemporalOptions{Headless: true, SearchAttributes: workflows.SearchAttributes(), Log: logFile})
		if err != nil {
			logs, _ := os.ReadFile(logFile.Name())
			fmt.Fprintf(out, "%v\ntemporal dev server log:\n%s\n", err, logs)
			return 1
		}
		defer t.Stop()
		env = append(env, "TEMPORAL_ADDRESS="+t.Address, "TEMPORAL_NAMESPACE=default")
		fmt.Fprintf(out, "devstack: Temporal dev server on %s\n", t.Address)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Stdin = env, os.Stdout, os.Stderr, os.Stdin
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		fmt.Fprintln(out, "devstack:", err)
		return 1
	}
}

// The fake HubSpot app's credentials in `make run`: sign an action with DevClientSecret to play
// HubSpot against the local stack.
const (
	DevClientID     = "smsflow-dev"
	DevClientSecret = "smsflow-dev-secret"
)

// devPortal is the portal the fake HubSpot installs (hubspottest.DefaultPortal).
const devPortal = 62515

// Ports of `make run`; fixed so that the README and bookmarks stay true.
const (
	RunPostgresPort  = 55432
	RunTemporalPort  = 7233
	RunUIPort        = 8233
	RunAPIPort       = 8080
	RunCarrierPort   = 8090
	RunFakeHubSpot   = 8091
	RunCodecPort     = 8089
	RunWorkerMetrics = 9464
	runStateDir      = ".devstack"
	runShutdownLimit = 20 * time.Second
)

type service struct {
	name, bin, listens string
	env                []string
	cmd                *exec.Cmd
	done               chan struct{} // closed when the process has exited
}

// Run brings the whole stack up from the repository root, prints where each part listens and
// stops every part when ctx ends (Ctrl-C) or when one part dies.
func Run(ctx context.Context, out io.Writer) int {
	if err := run(ctx, out); err != nil {
		fmt.Fprintln(out, "devstack:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, out io.Writer) error {
	if err := os.MkdirAll(runStateDir, 0o755); err != nil {
		return err
	}
	state, _ := filepath.Abs(runStateDir)
	_ = os.Chmod(state, 0o755)
	pg, err := StartPostgres(ctx, filepath.Join(state, "pg"), RunPostgresPort)
	if err != nil {
		return err
	}
	defer func() { _ = pg.Stop(); fmt.Fprintln(out, "devstack: PostgreSQL stopped") }()
	// The dev server is chatty (its own workers log every poll error at shutdown): keep it in a file.
	tlog, err := os.Create(filepath.Join(state, "temporal.log"))
	if err != nil {
		return err
	}
	defer tlog.Close()
	// The Web UI decodes payloads through the codec server (started below with the services).
	codecURL := fmt.Sprintf("http://localhost:%d", RunCodecPort)
	t, err := StartTemporal(ctx, TemporalOptions{Port: RunTemporalPort, UIPort: RunUIPort, DBFile: filepath.Join(state, "temporal.db"),
		SearchAttributes: workflows.SearchAttributes(), Log: tlog, UICodecEndpoint: codecURL})
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, tlog.Name())
	}
	defer func() { _ = t.Stop(); fmt.Fprintln(out, "devstack: Temporal dev server stopped") }()

	apiURL := fmt.Sprintf("http://localhost:%d", RunAPIPort)
	common := []string{
		"DATABASE_URL=" + pg.URL,
		"TEMPORAL_ADDRESS=" + t.Address,
		"PUBLIC_BASE_URL=" + apiURL,
		fmt.Sprintf("API_ADDR=127.0.0.1:%d", RunAPIPort),
		fmt.Sprintf("CARRIER_SIM_URL=http://127.0.0.1:%d", RunCarrierPort),
		fmt.Sprintf("HUBSPOT_API_BASE_URL=http://127.0.0.1:%d", RunFakeHubSpot),
	}
	// Development secrets, shared by the API, the worker and the fakes; the environment wins.
	for _, kv := range [][2]string{
		{"SMSFLOW_ENV", "development"},
		{"HUBSPOT_CLIENT_ID", DevClientID},
		{"HUBSPOT_CLIENT_SECRET", DevClientSecret},
		{"HUBSPOT_AUTHORIZE_URL", fmt.Sprintf("http://localhost:%d/oauth/authorize", RunFakeHubSpot)},
		{"TOKEN_ENCRYPTION_KEY", "c21zZmxvdy1kZXYta2V5LW5vdC1mb3ItcHJvZHVjdCE="},
		{"PHONE_HASH_KEY", "smsflow-dev-phone-hash-key"},
		{"HUBSPOT_APP_ID", "1"},
		{"HUBSPOT_DEVELOPER_API_KEY", "smsflow-dev-developer-key"},
		{"CARRIER_WEBHOOK_SECRET", "dev-webhook-secret"},
		{"PAYLOAD_KEYS", "dev:c21zZmxvdy1kZXYtcGF5bG9hZHMtbm90LXNlY3JldCE="},
		{"CODEC_SERVER_TOKEN", "smsflow-dev-codec-token"},
	} {
		if os.Getenv(kv[0]) == "" {
			common = append(common, kv[0]+"="+kv[1])
		}
	}
	services := []*service{
		{name: "api", bin: "bin/api", listens: apiURL + " (metrics " + apiURL + "/metrics)"},
		{name: "worker", bin: "bin/worker", listens: fmt.Sprintf("task queue smsflow on %s (metrics http://127.0.0.1:%d/metrics)", t.Address, RunWorkerMetrics),
			env: []string{fmt.Sprintf("METRICS_ADDR=127.0.0.1:%d", RunWorkerMetrics)}},
		{name: "carriersim", bin: "bin/carriersim", listens: fmt.Sprintf("http://127.0.0.1:%d (/sim/stats)", RunCarrierPort), env: []string{fmt.Sprintf("CARRIERSIM_ADDR=127.0.0.1:%d", RunCarrierPort)}},
		{name: "codec-server", bin: "bin/codec-server", listens: codecURL + " (decodes payloads for the Web UI; log in at /login with CODEC_SERVER_TOKEN)",
			env: []string{fmt.Sprintf("CODEC_SERVER_ADDR=127.0.0.1:%d", RunCodecPort),
				fmt.Sprintf("CODEC_SERVER_ORIGINS=http://localhost:%d,http://127.0.0.1:%d", RunUIPort, RunUIPort)}},
		{name: "fakehubspot", bin: "bin/fakehubspot", listens: fmt.Sprintf("http://127.0.0.1:%d (fake HubSpot API and OAuth)", RunFakeHubSpot), env: []string{fmt.Sprintf("FAKEHUBSPOT_ADDR=127.0.0.1:%d", RunFakeHubSpot)}},
	}
	died := make(chan string, len(services))
	for _, s := range services {
		s.cmd = exec.Command(s.bin)
		s.cmd.Env = append(append(os.Environ(), common...), s.env...)
		s.cmd.Stdout, s.cmd.Stderr = prefixWriter(out, s.name), prefixWriter(out, s.name)
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := s.cmd.Start(); err != nil {
			stopAll(services)
			return fmt.Errorf("start %s (run `make build` first): %w", s.bin, err)
		}
		s.done = make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(s.done); died <- s.name }()
	}
	defer stopAll(services)

	fmt.Fprintf(out, "\nsmsflow is starting:\n")
	fmt.Fprintf(out, "  %-12s %s\n", "PostgreSQL", pg.URL)
	fmt.Fprintf(out, "  %-12s %s (log %s)\n", "Temporal", t.Address, tlog.Name())
	fmt.Fprintf(out, "  %-12s %s\n", "Web UI", t.UIURL)
	for _, s := range services {
		fmt.Fprintf(out, "  %-12s %s\n", s.name, s.listens)
	}
	if err := waitReady(ctx, apiURL+"/readyz", died); err != nil {
		return err
	}
	if err := ownDevSenders(ctx, pg.URL); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nsmsflow is ready: %s/readyz answers 200. Ctrl-C stops everything.\n\n", apiURL)
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\ndevstack: stopping")
		return nil
	case name := <-died:
		return fmt.Errorf("%s exited; stopping the stack", name)
	}
}

// DevSenders are the senders the fake HubSpot's portal owns in `make run` (bin/hubspotplay sends
// from SMSFLOW and calls from DevCallerID); a portal may send and call only from its own senders.
var DevSenders = []string{"SMSFLOW", DevCallerID}

// DevCallerID is the development portal's caller id: the number its calls come from.
const DevCallerID = "+33900000000"

// ownDevSenders registers DevSenders for the development portal (the API has migrated by now).
func ownDevSenders(ctx context.Context, databaseURL string) error {
	db, err := store.Open(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	for i, sender := range DevSenders {
		if err := db.AddSender(ctx, devPortal, sender, i == 0, store.SenderManual); err != nil {
			return fmt.Errorf("register the development portal's sender %s: %w", sender, err)
		}
	}
	return nil
}

func waitReady(ctx context.Context, url string, died <-chan string) error {
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case name := <-died:
			return fmt.Errorf("%s exited before the stack was ready", name)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// stopAll sends SIGTERM to every service and waits for it to exit, killing it after a grace period.
func stopAll(services []*service) {
	for _, s := range services {
		if s.done != nil {
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		}
	}
	grace := time.After(runShutdownLimit)
	for _, s := range services {
		if s.done == nil {
			continue
		}
		select {
		case <-s.done:
		case <-grace:
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
}

package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
)

// TemporalCLIVersion is the Temporal CLI built into bin/ by `make bin/temporal`.
const TemporalCLIVersion = "v1.5.1"

// ErrNoTemporal says how to build the CLI when it is missing.
var ErrNoTemporal = errors.New("devstack: Temporal CLI not found: run `make bin/temporal` (builds github.com/temporalio/cli/cmd/temporal@" +
	TemporalCLIVersion + " from the Go module proxy, ~6 min cold) or set TEMPORAL_CLI to its path")

// FindTemporalCLI returns the path of the temporal binary: $TEMPORAL_CLI, then bin/temporal in
// the repository (found from the working directory upwards), then PATH.
func FindTemporalCLI() (string, error) {
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("devstack: TEMPORAL_CLI=%s: %w", p, err)
		}
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			p := filepath.Join(dir, "bin", "temporal")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	return "", ErrNoTemporal
}

// TemporalOptions configures the dev server.
type TemporalOptions struct {
	Port     int  // gRPC frontend; 0 picks a free port
	UIPort   int  // Web UI; 0 with Headless false means Port+1000
	Headless bool // no Web UI (tests)
	// UICodecEndpoint is the codec server the Web UI decodes payloads with (--ui-codec-endpoint).
	UICodecEndpoint  string
	DBFile           string // SQLite file to keep state across restarts; empty = in memory
	Namespace        string
	SearchAttributes map[string]string // name → type (Keyword, Datetime, …)
	Log              io.Writer
}

// Temporal is a running dev server.
type Temporal struct {
	Address string
	UIURL   string
	cmd     *exec.Cmd
	done    chan error
}

// StartTemporal starts `temporal server start-dev` and waits until its frontend answers a health check.
func StartTemporal(ctx context.Context, opts TemporalOptions) (*Temporal, error) {
	bin, err := FindTemporalCLI()
	if err != nil {
		return nil, err
	}
	if opts.Port == 0 {
		if opts.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(opts.Port),
		"--namespace", opts.Namespace, "--log-level", "warn",
		"--dynamic-config-value", "frontend.enableServerVersionCheck=false"}
	t := &Temporal{Address: fmt.Sprintf("127.0.0.1:%d", opts.Port), done: make(chan error, 1)}
	if opts.Headless {
		args = append(args, "--headless")
	} else {
		if opts.UIPort == 0 {
			opts.UIPort = opts.Port + 1000
		}
		args = append(args, "--ui-port", strconv.Itoa(opts.UIPort))
		if opts.UICodecEndpoint != "" {
			args = append(args, "--ui-codec-endpoint", opts.UICodecEndpoint)
		}
		t.UIURL = fmt.Sprintf("http://localhost:%d", opts.UIPort)
	}
	if opts.DBFile != "" {
		args = append(args, "--db-filename", opts.DBFile)
	}
	for _, name := range sortedKeys(opts.SearchAttributes) {
		args = append(args, "--search-attribute", name+"="+opts.SearchAttributes[name])
	}
	t.cmd = exec.Command(bin, args...)
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	t.cmd.Stdout, t.cmd.Stderr = opts.Log, opts.Log
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("devstack: start %s: %w", bin, err)
	}
	go func() { t.done <- t.cmd.Wait() }()
	if err := t.waitHealthy(ctx, opts.Namespace, 90*time.Second); err != nil {
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

func (t *Temporal) waitHealthy(ctx context.Context, namespace string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case err := <-t.done:
			t.done <- err
			return fmt.Errorf("devstack: temporal dev server exited early: %v", err)
		default:
		}
		c, err := client.Dial(client.Options{HostPort: t.Address, Namespace: namespace, Logger: quietLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devstack: temporal dev server not healthy after %s: %w", limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop interrupts the server and waits for it, killing it after 10 s.
func (t *Temporal) Stop() error {
	_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-t.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-t.done
	}
	return nil
}

// TempDir makes a directory that the postgres user can traverse when tests run as root.
func TempDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

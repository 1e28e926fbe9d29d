// Command worker runs smsflow's Temporal worker: the message workflows and their activities.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // country windows need zone data even where the system has none

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"smsflow/activities"
	"smsflow/config"
	"smsflow/hubspotsync"
	"smsflow/metrics"
	"smsflow/retention"
	"smsflow/signalbox"
	"smsflow/store"
	"smsflow/workflows"
)

// owedSampleInterval is how often the outbox-lag gauge counts the owed signals.
const owedSampleInterval = 15 * time.Second

// senderStopTimeout bounds how long a stopping worker waits for the HubSpot sender's pass (one
// batch call and its bookkeeping).
const senderStopTimeout = 15 * time.Second

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "worker")
	if err := run(logger); err != nil {
		logger.Error("worker stopped", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	topts, err := cfg.TemporalClientOptions()
	if err != nil {
		return err
	}
	topts.Logger = log.NewStructuredLogger(logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	db, err := store.OpenWithPoolSize(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
	if err != nil {
		return err
	}
	defer db.Close()
	go func() { _ = db.MigrateUntilDone(ctx, logger, 2*time.Second) }()

	db.LinkTTL = cfg.LinkTTL
	tc, err := dial(ctx, logger, topts)
	if err != nil {
		return err
	}
	defer tc.Close()
	// A portal found revoked at a token refresh has its running messages stopped at once.
	db.OnDisconnect = retention.PortalStopper{Temporal: tc, Namespace: cfg.TemporalNamespace, TaskQueue: cfg.TemporalTaskQueue}.OnDisconnect(logger)
	acts, err := activities.FromConfig(cfg, db, logger)
	if err != nil {
		return err
	}
	// The HubSpot outbox is delivered from here, until the signal.
	sender, err := hubspotsync.FromConfig(cfg, db, logger)
	if err != nil {
		return err
	}
	// It completes the HubSpot actions in batches, then the CompleteAction activities waiting on them.
	sender.Temporal = tc
	senderDone := make(chan struct{})
	go func() { defer close(senderDone); _ = sender.Run(ctx) }()
	// On the way out (last), the sender ends its pass: its claimed rows and leases go back, and
	// the activities of the completions it made are completed, instead of waiting for the lease.
	defer func() {
		select {
		case <-senderDone:
		case <-time.After(senderStopTimeout):
			logger.Warn("hubspot outbox sender still running at exit; its leases expire by themselves")
		}
	}()
	// On SIGTERM the worker stops polling and lets running activities finish for
	// WorkerStopTimeout before cancelling them: an in-flight carrier call ends with its answer.
	w, err := workflows.NewWorker(ctx, tc, cfg.TemporalNamespace, cfg.TemporalTaskQueue, workerOptions(cfg), acts)
	if err != nil {
		return err
	}
	// The daily retention purge runs on this worker; the first worker to start creates its schedule.
	retention.Register(w, &retention.Activities{Store: db, Retention: cfg.MessageRetention, Log: logger})
	if err := retention.EnsureSchedule(ctx, tc, cfg.TemporalTaskQueue); err != nil {
		return err
	}
	// Inbound events the API stored but could not signal reach their workflows from here.
	sweeper := signalbox.New(db, signalbox.ClientSignaller{Client: tc, Namespace: cfg.TemporalNamespace, DataConverter: topts.DataConverter}, logger, signalbox.Options{})
	go func() { _ = sweeper.Run(ctx) }()
	go sweeper.SampleOwed(ctx, owedSampleInterval)
	if cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		srv := metrics.NewServer(cfg.MetricsToken)
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		logger.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	}
	logger.Info("worker started", "task_queue", cfg.TemporalTaskQueue, "namespace", cfg.TemporalNamespace,
		"database_max_conns", db.Pool.Config().MaxConns, "activity_slots", cfg.Worker.ActivitySlots,
		"local_activity_slots", cfg.Worker.LocalActivitySlots, "workflow_task_slots", cfg.Worker.WorkflowTaskSlots,
		"sticky_cache", cfg.Worker.StickyCacheSize)
	errc := make(chan error, 1)
	go func() { errc <- w.Run(worker.InterruptCh()) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		// w.Run returns once the interrupt it also received has stopped the worker gracefully.
		return <-errc
	}
}

// dial waits for Temporal instead of crash-looping while it starts.
func dial(ctx context.Context, logger *slog.Logger, opts client.Options) (client.Client, error) {
	for {
		tc, err := client.DialContext(ctx, opts)
		if err == nil {
			return tc, nil
		}
		logger.Warn("temporal not reachable yet; retrying", "address", opts.HostPort, "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

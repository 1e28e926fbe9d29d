// Command api serves smsflow's HTTP API.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // country windows need zone data even where the system has none

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"smsflow/api"
	"smsflow/config"
	"smsflow/retention"
	"smsflow/store"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "api")
	if err := run(logger); err != nil {
		logger.Error("api stopped", "error", err)
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

	// Neither the pool nor the lazy Temporal client connects here: the API answers /healthz and
	// the pure endpoints while PostgreSQL or Temporal is down, and /readyz says which.
	db, err := store.OpenWithPoolSize(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
	if err != nil {
		return err
	}
	defer db.Close()
	go func() { _ = db.MigrateUntilDone(ctx, logger, 2*time.Second) }()
	db.LinkTTL = cfg.LinkTTL
	tc, err := client.NewLazyClient(topts)
	if err != nil {
		return err
	}
	defer tc.Close()
	// A portal found revoked at a token refresh has its running messages stopped at once.
	db.OnDisconnect = retention.PortalStopper{Temporal: tc, Namespace: cfg.TemporalNamespace, TaskQueue: cfg.TemporalTaskQueue}.OnDisconnect(logger)

	gin.SetMode(gin.ReleaseMode)
	router := api.NewRouter(api.Deps{
		Log:      logger,
		Config:   cfg,
		Temporal: tc,
		// The converter of tc, for the signals the API sends itself (signalbox).
		DataConverter: topts.DataConverter,
		Store:         db,
		Ready: map[string]api.Check{
			"postgres":   db.Ping,
			"migrations": db.CheckMigrated,
			"temporal": func(ctx context.Context) error {
				_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
				return err
			},
		},
	})
	srv := api.NewServer(cfg, router)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("api listening", "addr", cfg.APIAddr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("api shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Command fakehubspot serves the fake HubSpot (hubspot/hubspottest) for `make run`: OAuth with
// short-lived tokens, callbacks, timeline events, records, associations, properties and notes,
// with HubSpot's 110-calls-per-10-seconds limit per portal.
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

	"smsflow/config"
	"smsflow/hubspot/hubspottest"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "fakehubspot")
	if err := run(logger); err != nil {
		logger.Error("fakehubspot stopped", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	id, secret := cfg.HubSpot.ClientID, cfg.HubSpot.ClientSecret
	if id == "" || secret == "" {
		id, secret = "smsflow-dev", "smsflow-dev-secret"
		logger.Warn("HUBSPOT_CLIENT_ID/SECRET not set: the fake uses the development pair", "client_id", id)
	}
	fake := hubspottest.New(id, secret)
	fake.RateLimit = 110
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: cfg.HubSpot.FakeAddr, Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("fake HubSpot listening", "addr", cfg.HubSpot.FakeAddr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

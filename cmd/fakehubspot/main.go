// Command fakehubspot serves the fake HubSpot (hubspot/hubspottest) for `make run`: OAuth with
// short-lived tokens, callbacks, timeline events, records, associations, properties and notes,
// with HubSpot's 110-calls-per-10-seconds limit per portal.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
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

// devRecords makes any record asked for exist: contacts get a French mobile number derived from
// their id (+33 6 followed by the id's last 8 digits), other records have no phone.
func devRecords(_ int64, objectType, id string) map[string]string {
	if objectType != "contacts" {
		return map[string]string{}
	}
	digits := fmt.Sprintf("%08d", len(id))
	if n, err := strconv.ParseUint(id, 10, 64); err == nil {
		digits = fmt.Sprintf("%08d", n%100000000)
	}
	return map[string]string{"firstname": "Contact " + id, "mobilephone": "+336" + digits}
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
	fake.Records = devRecords
	// The developer account of `make run`, so bin/hubspotapp can register the app's definitions.
	if key := cfg.HubSpot.DeveloperAPIKey; key != "" {
		appID, err := strconv.ParseInt(cfg.HubSpot.AppID, 10, 64)
		if err != nil {
			return fmt.Errorf("HUBSPOT_APP_ID %q: %w", cfg.HubSpot.AppID, err)
		}
		fake.AddDeveloperKey(key, appID)
	}
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

// Command carriersim runs the carrier simulator (Twilio wire format: SMS and voice calls, see
// carrier/sim) on CARRIERSIM_ADDR; its callbacks go to PUBLIC_BASE_URL signed with
// CARRIER_WEBHOOK_SECRET.
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

	"smsflow/carrier/sim"
	"smsflow/config"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "carriersim")
	if err := run(logger); err != nil {
		logger.Error("carriersim stopped", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	opts, err := sim.ParseOptions(cfg.Carrier.SimOptions)
	if err != nil {
		return err
	}
	opts.APIBaseURL, opts.WebhookSecret = cfg.PublicBaseURL, cfg.Carrier.WebhookSecret
	s := sim.New(opts)
	defer s.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: cfg.Carrier.SimAddr, Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("carriersim listening", "addr", cfg.Carrier.SimAddr, "callbacks_to", cfg.PublicBaseURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

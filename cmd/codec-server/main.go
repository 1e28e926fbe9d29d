// Command codec-server decodes smsflow's encrypted Temporal payloads for the Temporal Web UI and
// CLI: POST /decode (and /encode) with the bearer token CODEC_SERVER_TOKEN, CORS for the Web
// UI's origins (CODEC_SERVER_ORIGINS); a browser logs in once at /login.
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
	"smsflow/payloadcodec"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "codec-server")
	if err := run(logger); err != nil {
		logger.Error("codec server stopped", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	if err := cfg.CheckCodecServer(); err != nil {
		return err
	}
	codec, err := payloadcodec.FromString(cfg.PayloadKeys)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: cfg.Codec.Addr, Handler: newServer(codec, cfg.Codec.Token, cfg.Codec.Origins, logger),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("codec server listening", "addr", cfg.Codec.Addr, "origins", cfg.Codec.Origins, "newest_key", codec.NewestKeyID())
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

package api

import (
	"net/http"

	"smsflow/config"
)

// maxHeaderBytes bounds a request's headers; HubSpot's and the carriers' are a few kilobytes.
const maxHeaderBytes = 64 << 10

// NewServer returns the HTTP server of the API with the configured timeouts, so that a client
// sending slowly (headers, body) or reading slowly holds a connection for a bounded time only.
func NewServer(cfg config.Config, h http.Handler) *http.Server {
	return &http.Server{Addr: cfg.APIAddr, Handler: h, MaxHeaderBytes: maxHeaderBytes,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout, ReadTimeout: cfg.HTTP.ReadTimeout,
		WriteTimeout: cfg.HTTP.WriteTimeout, IdleTimeout: cfg.HTTP.IdleTimeout}
}

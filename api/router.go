// Package api is smsflow's thin HTTP service: it authenticates, validates, starts or signals
// workflows and answers at once. No carrier or HubSpot I/O happens on a request.
package api

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"smsflow/compliance"
	"smsflow/config"
	"smsflow/metrics"
	"smsflow/store"
)

// Check reports whether one dependency is usable; nil means ready.
type Check func(ctx context.Context) error

// Deps is what the handlers need. Every field may be used while the dependency is down: the API
// keeps answering /healthz and the pure endpoints.
type Deps struct {
	Log      *slog.Logger
	Config   config.Config
	Temporal client.Client // lazy: may be unreachable
	// DataConverter is Temporal's: the payloads the API encodes itself (signals) are encrypted
	// as the client's are. nil: the one of Config's PAYLOAD_KEYS, else the SDK's default.
	DataConverter converter.DataConverter
	Store         *store.Store // the pool connects lazily: PostgreSQL may be down
	// Ready lists the checks of /readyz by name ("postgres", "temporal", "migrations").
	Ready map[string]Check
}

// NewRouter builds the Gin engine with every route.
func NewRouter(d Deps) *gin.Engine {
	// Suppressions kept as a hash (after a purge or an erasure) are matched with PHONE_HASH_KEY.
	if d.Store != nil && len(d.Store.PhoneHashKey) == 0 {
		d.Store.PhoneHashKey = []byte(d.Config.PhoneHashKey)
	}
	r := gin.New()
	// The client IP of the rate limits is the connection's peer unless it is a configured proxy:
	// anyone can write X-Forwarded-For.
	if err := r.SetTrustedProxies(d.Config.HTTP.TrustedProxies); err != nil {
		d.Log.Error("HTTP_TRUSTED_PROXIES unusable; trusting no proxy", "error", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(gin.Recovery(), requestLog(d.Log), observe(), limitBody(d.Config.HTTP.MaxBodyBytes))
	r.GET("/healthz", func(c *gin.Context) { c.JSON(200, gin.H{"status": "ok"}) })
	r.GET("/metrics", gin.WrapH(metrics.Handler(d.Config.MetricsToken)))
	r.GET("/readyz", readyz(d.Ready))
	var own []string
	if u, err := url.Parse(d.Config.PublicBaseURL); err == nil && u.Hostname() != "" {
		own = []string{u.Hostname()}
	}
	RegisterPreviewWith(r, PreviewConfig{Compliance: compliance.Config{StopCode: d.Config.Carrier.StopShortCode, ShortDomains: own}})
	registerHubSpot(r, d)
	box := newSignalBox(d)
	registerCarriers(r, d, box)
	registerVoice(r, d, box)
	registerLinks(r, d, box)
	registerWebhooks(r, d)
	registerAdmin(r, d)
	return r
}

func requestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		if c.Request.URL.Path == "/healthz" || c.Request.URL.Path == "/readyz" || c.Request.URL.Path == "/metrics" {
			return
		}
		log.Info("request", "method", c.Request.Method, "path", c.FullPath(), "status", c.Writer.Status(),
			"duration_ms", time.Since(start).Milliseconds())
	}
}

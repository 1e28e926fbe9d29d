// Package wire builds smsflow's parts from the configuration, the same way for the worker, the
// end-to-end tests and the benchmark.
package wire

import (
	"errors"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"smsflow/activities"
	"smsflow/carrier/dispatch"
	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/store"
	"smsflow/workflows"
)

// Activities builds the activities: the HubSpot client with the portals' OAuth tokens (encrypted
// in PostgreSQL, refreshed ahead of expiry) and the carrier dispatcher.
func Activities(cfg config.Config, db *store.Store, log *slog.Logger) (*activities.Activities, error) {
	if cfg.PhoneHashKey == "" {
		return nil, errors.New("PHONE_HASH_KEY must be set: it keys the phone hash of the SmsPhoneHash search attribute")
	}
	tokens, err := store.NewTokens(db, cfg.HubSpot.TokenKey)
	if err != nil {
		return nil, err
	}
	manager := &hubspot.TokenManager{Store: tokens, Portals: db, OAuth: hubspot.NewOAuthFromConfig(cfg.HubSpot, cfg.PublicBaseURL)}
	hc, err := hubspot.NewClientFromConfig(cfg.HubSpot, manager)
	if err != nil {
		return nil, err
	}
	hc.Log, hc.TimeZone = log, hubspot.PortalTimeZones(db)
	templates, err := hubspot.ParseTemplates(cfg.HubSpot.TimelineTemplates)
	if err != nil {
		return nil, err
	}
	d, err := dispatch.FromConfig(cfg, db, log)
	if err != nil {
		return nil, err
	}
	return &activities.Activities{
		Store:   db,
		HubSpot: activities.HubSpotClient{C: hc, Portals: db, Templates: templates},
		Carrier: activities.CarrierDispatcher{D: d},
		Config: activities.Config{PublicBaseURL: cfg.PublicBaseURL, StopShortCode: cfg.Carrier.StopShortCode,
			PhoneHashKey: []byte(cfg.PhoneHashKey), Defaults: activities.DefaultSettings},
	}, nil
}

// Worker makes the worker of the message workflows on the configured task queue.
func Worker(c client.Client, cfg config.Config, acts *activities.Activities) worker.Worker {
	w := worker.New(c, cfg.TemporalTaskQueue, worker.Options{})
	workflows.Register(w, acts)
	return w
}

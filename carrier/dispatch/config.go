package dispatch

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"smsflow/carrier"
	"smsflow/carrier/health"
	"smsflow/carrier/twilio"
	"smsflow/carrier/vonage"
	"smsflow/config"
)

// Store is what FromConfig needs of PostgreSQL: the attempts' bookkeeping and the carriers'
// figures; *store.Store implements it.
type Store interface {
	Attempts
	health.Source
}

// FromConfig builds the dispatcher of cfg.Carrier: primary, optional secondary, breaker settings,
// at-least-once carriers, status callbacks to cfg.PublicBaseURL, and with a secondary the
// primary's health (CARRIER_HEALTH) deciding which messages go to the secondary first.
func FromConfig(cfg config.Config, db Store, log *slog.Logger) (*Dispatcher, error) {
	primary, err := NewSender(cfg, cfg.Carrier.Primary, nil)
	if err != nil {
		return nil, err
	}
	var secondary *Carrier
	if cfg.Carrier.Secondary != "" {
		s, err := NewSender(cfg, cfg.Carrier.Secondary, nil)
		if err != nil {
			return nil, err
		}
		secondary = &Carrier{Sender: s, AtLeastOnce: slices.Contains(cfg.Carrier.AtLeastOnce, s.Name())}
	}
	th, healthOn, err := health.ParseThresholds(cfg.Carrier.Health)
	if err != nil {
		return nil, fmt.Errorf("CARRIER_HEALTH: %w", err)
	}
	s := Settings{
		BreakerFailures:    cfg.Carrier.BreakerFailures,
		BreakerOpenTimeout: cfg.Carrier.BreakerOpenTimeout,
		SendTimeout:        cfg.Carrier.SendTimeout,
		CallbackBaseURL:    cfg.PublicBaseURL,
		Log:                log,
	}
	if healthOn && secondary != nil && secondary.Sender.Name() != primary.Name() {
		s.Health = health.New(db, primary.Name(), secondary.Sender.Name(), th, health.Options{Log: log})
	}
	return New(db, Carrier{Sender: primary, AtLeastOnce: slices.Contains(cfg.Carrier.AtLeastOnce, primary.Name())}, secondary, s), nil
}

// NewSender builds the adapter of a carrier name: "sim" (the simulator, Twilio wire format with
// lookup by reference), "twilio" or "vonage". hc may be nil; call timeouts come from contexts.
func NewSender(cfg config.Config, name string, hc *http.Client) (carrier.Sender, error) {
	if hc == nil {
		hc = &http.Client{}
	}
	c := cfg.Carrier
	switch name {
	case "sim":
		sid := c.TwilioAccountSID
		if sid == "" {
			sid = "ACsimulator"
		}
		return twilio.New(twilio.Options{Name: "sim", BaseURL: c.SimURL, AccountSID: sid, AuthToken: "sim", HTTPClient: hc,
			ReferenceLookup: true}), nil
	case "twilio":
		return twilio.New(twilio.Options{BaseURL: c.TwilioBaseURL, AccountSID: c.TwilioAccountSID, AuthToken: c.TwilioAuthToken, HTTPClient: hc}), nil
	case "vonage":
		return vonage.New(vonage.Options{BaseURL: c.VonageBaseURL, APIKey: c.VonageAPIKey, APISecret: c.VonageAPISecret, HTTPClient: hc,
			VoiceBaseURL: c.VonageVoiceBaseURL, ApplicationID: c.VonageApplicationID, PrivateKey: c.VonagePrivateKey}), nil
	}
	return nil, fmt.Errorf("dispatch: unknown carrier %q", name)
}

// CallPlacerFromConfig builds the call placer of cfg.Carrier: the primary and optional
// secondary carriers' voice adapters, the breaker settings, webhooks at cfg.PublicBaseURL.
// CARRIER_AT_LEAST_ONCE does not apply to calls: a call is never placed twice.
func CallPlacerFromConfig(cfg config.Config, attempts CallAttempts, log *slog.Logger) (*CallPlacer, error) {
	primary, err := NewCaller(cfg, cfg.Carrier.Primary, nil)
	if err != nil {
		return nil, err
	}
	var secondary carrier.Caller
	if cfg.Carrier.Secondary != "" {
		if secondary, err = NewCaller(cfg, cfg.Carrier.Secondary, nil); err != nil {
			return nil, err
		}
	}
	return NewCallPlacer(attempts, primary, secondary, CallSettings{Settings: Settings{
		BreakerFailures:    cfg.Carrier.BreakerFailures,
		BreakerOpenTimeout: cfg.Carrier.BreakerOpenTimeout,
		SendTimeout:        cfg.Carrier.SendTimeout,
		CallbackBaseURL:    cfg.PublicBaseURL,
		Log:                log,
	}}), nil
}

// NewCaller builds the voice adapter of a carrier name, as NewSender the SMS one.
func NewCaller(cfg config.Config, name string, hc *http.Client) (carrier.Caller, error) {
	s, err := NewSender(cfg, name, hc)
	if err != nil {
		return nil, err
	}
	c, ok := s.(carrier.Caller)
	if !ok {
		return nil, fmt.Errorf("dispatch: carrier %q places no calls", name)
	}
	return c, nil
}

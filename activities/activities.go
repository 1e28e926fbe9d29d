// Package activities holds every piece of I/O the message workflows do: PostgreSQL, HubSpot and
// carriers, plus the rule tables and encoders whose results must be recorded in the history.
// Activities are methods on Activities, so a test swaps a client, not a function. Each activity's
// input and output types sit beside it. A result that is a business outcome (an opted-out number,
// a message too long, a carrier refusing the number) comes back in ErrorCode / ErrorMessage, not
// as an error: errors are for what a retry may fix.
package activities

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"smsflow/carrier/dispatch"
	"smsflow/compliance"
	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/store"
	"smsflow/voice"
)

// HubSpot is what the lifecycle needs of HubSpot, per portal (the client finds the portal's
// token). Errors are the client's typed errors; HubSpotError turns them into retry decisions.
// Timeline events and record properties are not written here: Publish queues them in the HubSpot
// outbox, which hubspotsync delivers.
type HubSpot interface {
	ReadProperties(ctx context.Context, portalID int64, objectType, objectID string, names []string) (map[string]string, error)
	AssociatedIDs(ctx context.Context, portalID int64, fromType, fromID, toType string) ([]string, error)
	CompleteCallback(ctx context.Context, portalID int64, callbackID string, outputs map[string]string) error
}

// Dispatcher sends through the carriers (breaker, failover, exactly-once), if gate lets the
// message leave right before the carrier call (nil: always).
type Dispatcher interface {
	Dispatch(ctx context.Context, in DispatchInput, gate dispatch.Gate) (DispatchResult, error)
}

// Config is the deployment's configuration the activities need.
type Config struct {
	PublicBaseURL string
	StopShortCode string
	PhoneHashKey  []byte
	Defaults      Settings
	// ComplianceClock is the clock the country windows are evaluated on: the real one in
	// production (the zero value); tests move it to a Sunday evening in Paris, or speed it up.
	ComplianceClock ComplianceClock
	// Sending is the sending discipline: wake-up spread, sender rates, frequency caps. Its zero
	// value spreads, paces and caps nothing.
	Sending config.Sending
	// SendTimeout bounds one carrier call: a dispatch waiting for its sender's slot keeps that
	// much of its time for the call.
	SendTimeout time.Duration
}

// Activities holds the clients the activities need.
type Activities struct {
	Store   *store.Store
	HubSpot HubSpot
	Carrier Dispatcher
	// Calls places voice calls (breakers, failover, never twice).
	Calls voice.Placer
	// AudioHTTP fetches the audio files of calls to check them before the call; nil: a default
	// client with a 10 s timeout.
	AudioHTTP *http.Client
	Config    Config
	// CompleteInBatches leaves CompleteAction pending on a queued completion that the HubSpot
	// outbox sender (hubspotsync, given a Temporal client) makes in batches and then completes;
	// false: one HubSpot call per completion, inside the activity.
	CompleteInBatches bool
}

// rules are the country rules the activities apply, built once.
var rules = compliance.DefaultTable()

// FromConfig builds the activities of a deployment: the HubSpot client with the portals' OAuth
// tokens (encrypted in PostgreSQL, refreshed ahead of expiry), the carrier dispatcher and the call
// placer. The
// worker, the end-to-end harness and the benchmark all build them here.
func FromConfig(cfg config.Config, db *store.Store, log *slog.Logger) (*Activities, error) {
	if cfg.PhoneHashKey == "" {
		return nil, errors.New("PHONE_HASH_KEY must be set: it keys the phone hash of the SmsPhoneHash search attribute")
	}
	// Suppressions kept as a hash after a purge or an erasure are matched with the same key.
	if len(db.PhoneHashKey) == 0 {
		db.PhoneHashKey = []byte(cfg.PhoneHashKey)
	}
	hc, err := hubspot.NewPortalClient(cfg, db, log)
	if err != nil {
		return nil, err
	}
	d, err := dispatch.FromConfig(cfg, db, log)
	if err != nil {
		return nil, err
	}
	calls, err := dispatch.CallPlacerFromConfig(cfg, db, log)
	if err != nil {
		return nil, err
	}
	return &Activities{
		Store:   db,
		HubSpot: HubSpotClient{C: hc},
		Carrier: CarrierDispatcher{D: d},
		Calls:   calls,
		// The worker runs the sender that completes them (cmd/worker, internal/harness).
		CompleteInBatches: true,
		Config: Config{PublicBaseURL: cfg.PublicBaseURL, StopShortCode: cfg.Carrier.StopShortCode,
			PhoneHashKey: []byte(cfg.PhoneHashKey), Defaults: defaultsOf(cfg), Sending: cfg.Sending, SendTimeout: cfg.Carrier.SendTimeout},
	}, nil
}

// defaultsOf are the lifecycle settings of a portal that set none, with the deployment's own.
func defaultsOf(cfg config.Config) Settings {
	d := DefaultSettings
	if cfg.DeliveryReportTTL > 0 {
		d.DeliveryTimeout = cfg.DeliveryReportTTL
	}
	return d
}

// DefaultSettings are the lifecycle settings of a portal that set none.
var DefaultSettings = Settings{
	DeliveryTimeout: 72 * time.Hour,
	ListenAfter:     7 * 24 * time.Hour,
	DefaultWait:     24 * time.Hour,
	MaxSegments:     5,
}

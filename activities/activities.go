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
	"time"

	"smsflow/carrier/dispatch"
	"smsflow/compliance"
	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/store"
)

// HubSpot is what the lifecycle needs of HubSpot, per portal (the client finds the portal's
// token). Errors are the client's typed errors; HubSpotError turns them into retry decisions.
type HubSpot interface {
	ReadProperties(ctx context.Context, portalID int64, objectType, objectID string, names []string) (map[string]string, error)
	AssociatedIDs(ctx context.Context, portalID int64, fromType, fromID, toType string) ([]string, error)
	UpdateProperties(ctx context.Context, portalID int64, objectType, objectID string, props map[string]string) error
	// RecordEvent writes a timeline event, or the fallback (a note) where the portal cannot
	// use timeline events; eventID makes a retry a no-op.
	RecordEvent(ctx context.Context, portalID int64, fallback bool, ev TimelineEvent) error
	CompleteCallback(ctx context.Context, portalID int64, callbackID string, outputs map[string]string) error
	// SetUp creates our properties on the portal (idempotent), for a portal whose install did not
	// finish it: HubSpot refuses writes to properties that do not exist.
	SetUp(ctx context.Context, portalID int64) error
}

// TimelineEvent is one status change as HubSpot shows it on the record.
type TimelineEvent struct {
	ID         string // message id + status: stable across retries
	ObjectType string
	ObjectID   string
	Status     outcome.Status
	At         time.Time
	Tokens     map[string]string // message id, sender, text, status, characters, segments, campaign…
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
}

// Activities holds the clients the activities need.
type Activities struct {
	Store   *store.Store
	HubSpot HubSpot
	Carrier Dispatcher
	Config  Config
}

// rules are the country rules the activities apply, built once.
var rules = compliance.DefaultTable()

// FromConfig builds the activities of a deployment: the HubSpot client with the portals' OAuth
// tokens (encrypted in PostgreSQL, refreshed ahead of expiry) and the carrier dispatcher. The
// worker, the end-to-end harness and the benchmark all build them here.
func FromConfig(cfg config.Config, db *store.Store, log *slog.Logger) (*Activities, error) {
	if cfg.PhoneHashKey == "" {
		return nil, errors.New("PHONE_HASH_KEY must be set: it keys the phone hash of the SmsPhoneHash search attribute")
	}
	tokens, err := store.NewTokens(db, cfg.HubSpot.TokenKeyring())
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
	return &Activities{
		Store:   db,
		HubSpot: HubSpotClient{C: hc, Portals: db, Templates: templates},
		Carrier: CarrierDispatcher{D: d},
		Config: Config{PublicBaseURL: cfg.PublicBaseURL, StopShortCode: cfg.Carrier.StopShortCode,
			PhoneHashKey: []byte(cfg.PhoneHashKey), Defaults: DefaultSettings},
	}, nil
}

// DefaultSettings are the lifecycle settings of a portal that set none.
var DefaultSettings = Settings{
	DeliveryTimeout: 48 * time.Hour,
	ListenAfter:     7 * 24 * time.Hour,
	DefaultWait:     24 * time.Hour,
	MaxSegments:     5,
}

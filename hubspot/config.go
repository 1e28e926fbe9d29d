package hubspot

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"smsflow/config"
	"smsflow/store"
)

// ParsePaths applies "name=/prefix,..." overrides to DefaultPaths.
func ParsePaths(s string) (Paths, error) {
	p := DefaultPaths
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		name, val, ok := strings.Cut(kv, "=")
		val = "/" + strings.Trim(strings.TrimSpace(val), "/")
		if !ok || val == "/" {
			return Paths{}, fmt.Errorf("HUBSPOT_PATHS: %q is not name=/prefix", kv)
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "callbacks":
			p.Callbacks = val
		case "timeline":
			p.Timeline = val
		case "objects":
			p.Objects = val
		case "associations":
			p.Associations = val
		case "properties":
			p.Properties = val
		case "accountinfo":
			p.AccountInfo = val
		default:
			return Paths{}, fmt.Errorf("HUBSPOT_PATHS: unknown path name %q", name)
		}
	}
	return p, nil
}

// ParseStatuses reads "404,409" into status codes.
func ParseStatuses(s string) ([]int, error) {
	out := []int{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("%q is not an HTTP status", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// ParseTemplates reads "SMS_SENT=1001,..." into status → timeline event template id.
func ParseTemplates(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("HUBSPOT_TIMELINE_TEMPLATES: %q is not STATUS=templateId", kv)
		}
		out[strings.ToUpper(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return out, nil
}

// NewClientFromConfig builds the API client of the configuration.
func NewClientFromConfig(c config.HubSpot, tokens TokenSource) (*Client, error) {
	paths, err := ParsePaths(c.Paths)
	if err != nil {
		return nil, err
	}
	done, err := ParseStatuses(c.CallbackDoneStatuses)
	if err != nil {
		return nil, fmt.Errorf("HUBSPOT_CALLBACK_DONE_STATUSES: %w", err)
	}
	cl := NewClient(c.APIBaseURL, tokens)
	cl.Paths, cl.CallbackDoneStatuses, cl.NoteDedupProperty = paths, done, "smsflow_event_id"
	return cl, nil
}

// NewOAuthFromConfig builds the OAuth setup; publicBaseURL gives the redirect URI.
func NewOAuthFromConfig(c config.HubSpot, publicBaseURL string) *OAuth {
	return &OAuth{
		ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		RedirectURI:  strings.TrimRight(publicBaseURL, "/") + "/oauth/callback",
		AuthorizeURL: c.AuthorizeURL,
		TokenURL:     c.APIBaseURL + "/oauth/v1/token",
		InfoURL:      c.APIBaseURL + "/oauth/v1/access-tokens",
		Scopes:       strings.Fields(c.Scopes), OptionalScopes: strings.Fields(c.OptionalScopes),
		HTTP: &http.Client{Timeout: 15 * time.Second},
	}
}

// NewPortalClient builds the client that acts for the installed portals of a deployment: their
// OAuth tokens encrypted in PostgreSQL and refreshed ahead of expiry, and each portal's DAILY limit
// reset in its time zone. The worker's activities and the outbox sender use it.
func NewPortalClient(cfg config.Config, db *store.Store, log *slog.Logger) (*Client, error) {
	tokens, err := store.NewTokens(db, cfg.HubSpot.TokenKeyring())
	if err != nil {
		return nil, err
	}
	manager := &TokenManager{Store: tokens, Portals: db, OAuth: NewOAuthFromConfig(cfg.HubSpot, cfg.PublicBaseURL)}
	c, err := NewClientFromConfig(cfg.HubSpot, manager)
	if err != nil {
		return nil, err
	}
	c.Log, c.TimeZone = log, PortalTimeZones(db)
	c.Budget = NewLimiter(cfg.HubSpot, db, c.TimeZone)
	return c, nil
}

// NewLimiter builds the portals' shared budget of the configuration, over PostgreSQL.
func NewLimiter(c config.HubSpot, db BudgetStore, timeZone func(ctx context.Context, portalID int64) *time.Location) *Limiter {
	return &Limiter{Store: db, Limit: c.BudgetTenSecondly, Daily: c.BudgetDaily, TimeZone: timeZone}
}

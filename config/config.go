// Package config reads the service configuration once from the environment into a typed struct.
// Only main packages call FromEnv; everything else receives the values it needs.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"smsflow/payloadcodec"
)

// Environments of SMSFLOW_ENV. Outside development the services refuse to start with a missing
// secret or one of the published development values (see CheckSecrets).
const (
	Production  = "production"
	Development = "development"
)

// Config is the whole configuration of the API, the worker and the simulators.
type Config struct {
	// Env is Production or Development.
	Env         string
	DatabaseURL string
	// DatabaseMaxConns bounds each process's PostgreSQL pool; 0: pool_max_conns of DatabaseURL,
	// else pgx's default.
	DatabaseMaxConns  int32
	TemporalAddress   string
	TemporalNamespace string
	TemporalTaskQueue string
	APIAddr           string
	PublicBaseURL     string
	ShutdownTimeout   time.Duration
	// WorkerStopTimeout is how long a stopping worker lets its running activities (an in-flight
	// carrier call above all) finish before it cancels them.
	WorkerStopTimeout time.Duration
	// DeliveryReportTTL is how long a sent message waits for its final delivery report before it
	// counts as not delivered (DELIVERY_EXPIRED); a portal's delivery_timeout setting overrides it.
	DeliveryReportTTL time.Duration
	// PhoneHashKey keys the HMAC of phone numbers in search attributes.
	PhoneHashKey string
	// LinkTTL is how long a short or unsubscribe link answers after it is created.
	LinkTTL time.Duration
	// PayloadKeys are the AES-256 keys of Temporal payloads, "id:base64key,...", newest first
	// (payloadcodec.ParseKeys): every payload is encrypted with the newest, read with any.
	PayloadKeys string

	Codec CodecServer
	// MetricsAddr is where the worker serves /metrics (empty: nowhere); MetricsToken, when set,
	// is the bearer token /metrics of the API and the worker asks for.
	MetricsAddr, MetricsToken string
	// MessageRetention is how long message data is kept before the retention schedule purges it
	// (aggregate counts and hashed suppressions stay).
	MessageRetention time.Duration
	// AdminToken is the bearer token of the operator endpoints (/admin/...); empty: they refuse
	// every request.
	AdminToken string

	HTTP     HTTP
	Temporal Temporal
	HubSpot  HubSpot
	Carrier  Carrier
	Sending  Sending
	Worker   Worker
}

// HTTP holds the API server's limits.
type HTTP struct {
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxBodyBytes bounds every request body; larger ones are answered 413.
	MaxBodyBytes int64
	// DBTimeout bounds the database calls of one request.
	DBTimeout time.Duration
	// TrustedProxies are the addresses or CIDRs whose X-Forwarded-For is believed when finding a
	// client's IP for rate limits; empty: the connection's peer address is the client.
	TrustedProxies []string
	// LinkPerIP and LinkPerCode limit the recipient pages (/l/, /u/) per client IP and per code.
	LinkPerIP, LinkPerCode RateLimit
}

// RateLimit is a token bucket: Burst requests at once, then PerSecond a second.
type RateLimit struct {
	PerSecond, Burst float64
}

// Temporal holds how the services reach the Temporal frontend securely (TemporalClientOptions).
type Temporal struct {
	// TLSCert and TLSKey are PEM files of a client certificate (mTLS); TLSCA a PEM file of the
	// CAs trusted for the server (empty: the system's); TLSServerName overrides the name checked.
	TLSCert, TLSKey, TLSCA, TLSServerName string
	// APIKey is a Temporal Cloud API key, sent as a bearer token (TLS is then on).
	APIKey string
}

// CodecServer holds cmd/codec-server's settings: it decodes payloads for the Temporal Web UI.
type CodecServer struct {
	Addr string
	// Token is the bearer token a caller must present (Authorization: Bearer, or the cookie its
	// /login page sets).
	Token string
	// Origins are the Web UI origins allowed to call it from a browser (CORS).
	Origins []string
}

// HubSpot holds what the HubSpot side needs.
type HubSpot struct {
	APIBaseURL   string
	AppID        string
	ClientID     string
	ClientSecret string
	// TokenKey encrypts OAuth tokens at rest (32 bytes, base64 or hex); its key id is 0.
	TokenKey string
	// TokenKeys are several such keys, "id:key,id:key", newest first: tokens are sealed with the
	// newest and opened with the key whose id is stored beside them (rotation).
	TokenKeys string
	// AuthorizeURL is HubSpot's OAuth consent page (the fake HubSpot's in development).
	AuthorizeURL string
	// Scopes and OptionalScopes are space-separated OAuth scopes of the install.
	Scopes, OptionalScopes string
	// Paths overrides API path prefixes, "name=/prefix,..." (see hubspot.Paths); empty: defaults.
	Paths string
	// CallbackDoneStatuses are the statuses of a callback completion meaning "already completed".
	CallbackDoneStatuses string
	// TimelineTemplates maps statuses to timeline event template ids, "SMS_SENT=123,...".
	TimelineTemplates string
	// FakeAddr is where cmd/fakehubspot listens.
	FakeAddr string
	// DeveloperAPIKey is the developer account's API key (hapikey) that cmd/hubspotapp uses to
	// create the app's action definitions and timeline templates; the services never need it.
	DeveloperAPIKey string
	// BudgetTenSecondly is the calls per 10 s all our processes together make for a portal, and
	// BudgetDaily the calls per day of the portal (its hubspot_daily_limit setting overrides it).
	BudgetTenSecondly int
	BudgetDaily       int64
}

// Carrier holds the carrier settings.
type Carrier struct {
	Primary   string // "sim", "twilio" or "vonage"
	Secondary string // optional failover carrier
	// SimURL is the base URL of the carrier simulator (Twilio wire format).
	SimURL           string
	TwilioBaseURL    string
	TwilioAccountSID string
	TwilioAuthToken  string
	VonageBaseURL    string
	VonageAPIKey     string
	VonageAPISecret  string
	// VonageVoiceBaseURL is the Vonage Voice API (https://api.nexmo.com); VonageApplicationID and
	// VonagePrivateKey (PEM, or the path of a PEM file) authenticate its calls (RS256 JWTs).
	VonageVoiceBaseURL  string
	VonageApplicationID string
	VonagePrivateKey    string
	// WebhookSecret signs the simulator's callbacks to the API.
	WebhookSecret string
	// StopShortCode is the short code quoted in the French "STOP au <code>" mention.
	StopShortCode string

	// VonageSignatureSecret and VonageSignatureMethod verify Vonage signed webhooks (the secret
	// defaults to VonageAPISecret; the method is md5hash, md5, sha1, sha256 or sha512).
	VonageSignatureSecret string
	VonageSignatureMethod string
	// BreakerFailures consecutive failures open a carrier's circuit breaker for BreakerOpenTimeout.
	BreakerFailures    int
	BreakerOpenTimeout time.Duration
	// SendTimeout bounds one call to a carrier.
	SendTimeout time.Duration
	// AtLeastOnce lists carriers whose uncertain sends are sent again (risking a duplicate)
	// instead of ending SEND_UNCERTAIN when the carrier cannot be asked.
	AtLeastOnce []string
	// Health is CARRIER_HEALTH: when traffic moves from the primary to the secondary carrier
	// (see carrier/health.ParseThresholds).
	Health string
	// SimAddr is where cmd/carriersim listens; SimOptions its behaviour (see carrier/sim.ParseOptions).
	SimAddr    string
	SimOptions string
}

// Var documents one environment variable; Vars is the table the README shows.
type Var struct {
	Name, Default, Meaning string
}

// Vars lists every variable FromEnv reads, with its default.
var Vars = []Var{
	{"SMSFLOW_ENV", Production, "`production` or `development`; outside development the API and the worker refuse to start with a missing secret or a published development value"},
	{"DATABASE_URL", "postgres://localhost:5432/smsflow?sslmode=disable", "PostgreSQL connection string (pgx format); in production use `sslmode=verify-full` (with `sslrootcert=` a CA file when the server's CA is not in the system store) so the connection is encrypted and the server authenticated; `disable` is for a database on the same host or private network only"},
	{"DATABASE_MAX_CONNS", "", "largest number of PostgreSQL connections of each process's pool; empty: `pool_max_conns` of `DATABASE_URL`, else pgx's default (the larger of 4 and the CPU count)"},
	{"TEMPORAL_ADDRESS", "localhost:7233", "Temporal frontend host:port"},
	{"TEMPORAL_NAMESPACE", "default", "Temporal namespace"},
	{"TEMPORAL_TASK_QUEUE", "smsflow", "task queue of the message workflows and activities"},
	{"TEMPORAL_TLS_CERT", "", "PEM file of the client certificate for mTLS to Temporal (with `TEMPORAL_TLS_KEY`)"},
	{"TEMPORAL_TLS_KEY", "", "PEM file of the client certificate's private key"},
	{"TEMPORAL_TLS_CA", "", "PEM file of the CAs trusted for the Temporal server (default: the system's); setting it turns TLS on"},
	{"TEMPORAL_TLS_SERVER_NAME", "", "server name checked in the Temporal server's certificate (default: the host of `TEMPORAL_ADDRESS`); setting it turns TLS on"},
	{"TEMPORAL_API_KEY", "", "Temporal Cloud API key, sent as a bearer token; turns TLS on"},
	{"PAYLOAD_KEYS", "", "AES-256 keys encrypting every Temporal payload (inputs, results, signals, failure messages), `id:base64key,id:base64key`, newest first: payloads are encrypted with the first and decrypted with the key their metadata names (rotation: put a new key first, keep the old ones while histories encrypted with them are kept). Required outside development; in development the published development key is used when unset"},
	{"CODEC_SERVER_ADDR", "127.0.0.1:8089", "listen address of the codec server (cmd/codec-server) that decodes payloads for the Temporal Web UI"},
	{"CODEC_SERVER_TOKEN", "", "bearer token the codec server requires on /encode and /decode (also accepted from the cookie its /login page sets); required by the codec server"},
	{"CODEC_SERVER_ORIGINS", "http://localhost:8233", "Web UI origins (comma-separated) allowed to call the codec server from a browser (CORS)"},
	{"API_ADDR", ":8080", "listen address of the API"},
	{"HTTP_READ_HEADER_TIMEOUT", "5s", "how long the API waits for a request's headers"},
	{"HTTP_READ_TIMEOUT", "15s", "how long the API waits for a whole request, body included"},
	{"HTTP_WRITE_TIMEOUT", "45s", "how long the API may take to answer a request (the OAuth callback waits up to 20 s for HubSpot)"},
	{"HTTP_IDLE_TIMEOUT", "60s", "how long an idle keep-alive connection stays open"},
	{"HTTP_MAX_BODY_BYTES", "1048576", "largest request body the API reads (bytes); larger ones are answered 413"},
	{"HTTP_DB_TIMEOUT", "5s", "deadline of the database calls (and the Temporal signal after them) of one API request"},
	{"HTTP_TRUSTED_PROXIES", "", "addresses or CIDRs of the load balancers whose `X-Forwarded-For` names the client (comma-separated); empty: the connection's peer is the client (rate limits are per client IP)"},
	{"LINK_LIMIT_PER_IP", "1,30", "rate limit of the recipient pages (`/l/`, `/u/` together) per client IP: requests a second, then the burst allowed at once"},
	{"LINK_LIMIT_PER_CODE", "0.2,20", "rate limit of one short or unsubscribe link code, whoever asks: requests a second, then the burst"},
	{"LINK_TTL", "400d", "how long short links and unsubscribe links answer after the message is sent (`d` for days, or a Go duration); expired codes are unknown"},
	{"PUBLIC_BASE_URL", "http://localhost:8080", "public URL of the API, used for short links, unsubscribe links and signature checks"},
	{"SHUTDOWN_TIMEOUT", "15s", "how long a graceful shutdown may take"},
	{"WORKER_STOP_TIMEOUT", "30s", "how long a stopping worker (SIGTERM) lets running activities finish before cancelling them, so an in-flight carrier call ends with its answer; at least `CARRIER_SEND_TIMEOUT`; give the container a longer stop grace period"},
	{"DELIVERY_REPORT_TTL", "72h", "how long a sent message waits for its final delivery report before it ends NOT_DELIVERED with `DELIVERY_EXPIRED` (a report coming later still makes it DELIVERED); a portal's `delivery_timeout` setting overrides it"},
	{"METRICS_ADDR", "127.0.0.1:9464", "listen address of the worker's Prometheus `/metrics` (the API serves its own on `API_ADDR`); empty: the worker serves none"},
	{"METRICS_TOKEN", "", "bearer token `/metrics` of the API and the worker asks for (Prometheus `authorization` credentials); empty: open, so keep the API's `/metrics` off the public route at the load balancer"},
	{"MESSAGE_RETENTION", "8760h", "how long message data (messages, events, links, dispatch attempts, HubSpot writes) is kept before the daily retention schedule purges it (`d` for days, or a Go duration); daily counts and hashed suppressions stay"},
	{"ADMIN_TOKEN", "", "bearer token of the operator endpoints (`POST /admin/erasure`, `POST /admin/portals/{id}/disconnect`); empty: they answer 401 to everyone"},
	{"PHONE_HASH_KEY", "", "secret keying the phone hash put in the SmsPhoneHash search attribute (required by the worker)"},
	{"HUBSPOT_API_BASE_URL", "https://api.hubapi.com", "HubSpot API base URL (the fake HubSpot in development)"},
	{"HUBSPOT_APP_ID", "", "HubSpot app id"},
	{"HUBSPOT_DEVELOPER_API_KEY", "", "API key (hapikey) of the developer account owning the app; only `bin/hubspotapp` uses it"},
	{"HUBSPOT_CLIENT_ID", "", "HubSpot app OAuth client id"},
	{"HUBSPOT_CLIENT_SECRET", "", "HubSpot app client secret: OAuth and request signatures"},
	{"TOKEN_ENCRYPTION_KEY", "", "32-byte key (base64) encrypting OAuth tokens at rest; its key id is `0`"},
	{"TOKEN_ENCRYPTION_KEYS", "", "several token keys for rotation, `id:key,id:key`, newest first (tokens are sealed with the first, opened by the id stored beside them); `TOKEN_ENCRYPTION_KEY`, when also set, is key `0`"},
	{"HUBSPOT_AUTHORIZE_URL", "https://app.hubspot.com/oauth/authorize", "HubSpot OAuth consent page that /oauth/install redirects to"},
	{"HUBSPOT_SCOPES", "oauth automation crm.objects.contacts.read crm.objects.contacts.write crm.objects.companies.read crm.objects.companies.write crm.objects.deals.read crm.objects.deals.write tickets crm.schemas.contacts.write crm.schemas.companies.write crm.schemas.deals.write", "OAuth scopes the install asks for (space-separated)"},
	{"HUBSPOT_OPTIONAL_SCOPES", "timeline", "optional OAuth scopes (timeline is granted to timeline partners only)"},
	{"HUBSPOT_PATHS", "", "API path overrides, e.g. `timeline=/integrators/timeline/v3,callbacks=/automation/actions/callbacks/2026-03` (names: callbacks, timeline, objects, associations, properties, accountinfo)"},
	{"HUBSPOT_CALLBACK_DONE_STATUSES", "404,409,410", "statuses of a callback completion that mean already completed or expired (UNCONFIRMED in HubSpot's docs)"},
	{"HUBSPOT_TIMELINE_TEMPLATES", "", "timeline event template id per status, e.g. `SMS_SENT=1001,SMS_DELIVERED=1002` (contact templates); `deals:SMS_SENT=2001` names a deal template (a deal's messages also show on the deal: as notes where its status has no deal template)"},
	{"HUBSPOT_BUDGET_TEN_SECONDLY", "100", "HubSpot calls per 10 s that all the workers and the API together make for one portal (HubSpot allows OAuth apps 110): every call takes its budget first, in PostgreSQL; action completions before reads, reads before the outbox's backlog"},
	{"HUBSPOT_BUDGET_DAILY", "250000", "HubSpot calls a portal may make per day (its time zone's day, as HubSpot counts); a portal's `hubspot_daily_limit` setting overrides it. The last 2 % are kept for action completions"},
	{"FAKEHUBSPOT_ADDR", "127.0.0.1:8091", "listen address of the fake HubSpot (cmd/fakehubspot)"},
	{"CARRIER_PRIMARY", "sim", "carrier used first: sim, twilio or vonage"},
	{"CARRIER_SECONDARY", "", "carrier used when the primary's circuit breaker is open or its health is degraded (optional)"},
	{"CARRIER_SIM_URL", "http://localhost:8090", "carrier simulator base URL"},
	{"TWILIO_BASE_URL", "https://api.twilio.com", "Twilio API base URL"},
	{"TWILIO_ACCOUNT_SID", "", "Twilio account SID"},
	{"TWILIO_AUTH_TOKEN", "", "Twilio auth token (also verifies X-Twilio-Signature)"},
	{"VONAGE_BASE_URL", "https://rest.nexmo.com", "Vonage SMS API base URL"},
	{"VONAGE_API_KEY", "", "Vonage API key"},
	{"VONAGE_API_SECRET", "", "Vonage API secret (also verifies signed webhooks)"},
	{"VONAGE_VOICE_BASE_URL", "https://api.nexmo.com", "Vonage Voice API base URL (calls)"},
	{"VONAGE_APPLICATION_ID", "", "Vonage application id of the voice calls (with `VONAGE_PRIVATE_KEY`)"},
	{"VONAGE_PRIVATE_KEY", "", "the Vonage application's private key (PEM, or the path of a PEM file) signing the Voice API's JWTs; voice webhooks are verified with `VONAGE_SIGNATURE_SECRET` (HS256 JWT)"},
	{"CARRIER_WEBHOOK_SECRET", "", "HMAC secret of the carrier simulator's callbacks (required when the simulator is a configured carrier)"},
	{"STOP_SHORT_CODE", "36180", "short code quoted in the French STOP mention"},
	{"VONAGE_SIGNATURE_SECRET", "", "Vonage signature secret of signed webhooks (default: VONAGE_API_SECRET)"},
	{"VONAGE_SIGNATURE_METHOD", "md5hash", "Vonage signature method: md5hash, md5, sha1, sha256 or sha512"},
	{"CARRIER_BREAKER_FAILURES", "5", "consecutive carrier failures that open its circuit breaker"},
	{"CARRIER_BREAKER_OPEN", "30s", "how long an open breaker rejects sends before trying one"},
	{"CARRIER_SEND_TIMEOUT", "10s", "timeout of one call to a carrier"},
	{"CARRIER_AT_LEAST_ONCE", "", "carriers (comma-separated) resent after an uncertain send instead of SEND_UNCERTAIN"},
	{"CARRIER_HEALTH", "", "when traffic moves to `CARRIER_SECONDARY` although the primary's breaker is closed, `key=value,…` over the defaults `slow=15%,slow_after=5m,window=15m,errors=20%,error_window=5m,min=20,sample=1000,probe=10%,ramp=10m,refresh=10s`; `off`: only while the breaker is open"},
	{"CARRIERSIM_ADDR", "127.0.0.1:8090", "listen address of the carrier simulator"},
	{"CARRIERSIM_OPTIONS", "", "carrier simulator behaviour, e.g. seed=1,delay=200ms,undelivered=0.05,reply=0.1,stop=0.02,click=0.3,5xx=0,timeout=0"},
	{"WAKE_SPREAD", "15m", "span over which the messages waking at a country window's opening or at a quota's daily reset are spread, each at an offset given by its message id (never outside its window: the span shrinks to what stays of the window); `0s`: all at the same instant"},
	{"SENDER_RATES", "long_code=1,toll_free=3,short_code=100,alphanumeric=30", "messages per second a sender may send, by class (`long_code`, `toll_free`, `short_code`, `alphanumeric`); classes not named keep their default; one sender's rate can be set in `portal_senders.messages_per_second`"},
	{"PACING_MAX_WAIT", "15s", "longest a dispatch waits for its sender's next slot; a later slot sends the message back to its hold until then (a held message is given its slot when its wake-up is computed, so it rarely waits)"},
	{"FREQUENCY_CAPS", "3/24h,10/7d", "most marketing messages one recipient (phone) gets from one portal in each period, `max/period` comma-separated (`d` for days); `off`: no cap. A portal's `frequency_caps` setting overrides it"},
	{"FREQUENCY_CAP_ON_EXCEED", "reject", "a capped marketing message: `reject` ends it NOT_SENT `FREQUENCY_CAPPED`, `defer` holds it until the cap frees (inside its window); a portal's `frequency_cap_on_exceed` setting overrides it"},
	{"WORKER_ACTIVITY_SLOTS", "500", "activities one worker process runs at once (dispatches waiting for their sender's slot hold one)"},
	{"WORKER_LOCAL_ACTIVITY_SLOTS", "500", "local activities (prepare, pre-dispatch check, status publishing) one worker process runs at once"},
	{"WORKER_WORKFLOW_TASK_SLOTS", "200", "workflow tasks one worker process runs at once"},
	{"WORKER_ACTIVITY_POLLERS", "4", "long polls for activity tasks each worker process keeps open"},
	{"WORKER_WORKFLOW_POLLERS", "4", "long polls for workflow tasks each worker process keeps open (at least 2: the sticky and the normal queue)"},
	{"WORKER_STICKY_CACHE", "10000", "workflow runs a worker process keeps in memory between their tasks; a run evicted replays its history (≤ 40 events for an SMS) at its next task. Memory grows with it"},
}

// Load reads the configuration from the environment and refuses, naming the variables, a missing
// or development secret outside development: what cmd/api and cmd/worker start with.
func Load() (Config, error) {
	c, err := FromEnv()
	if err != nil {
		return Config{}, err
	}
	return c, c.CheckSecrets()
}

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup reads the configuration through lookup, so tests need not touch the environment.
func FromLookup(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		for _, v := range Vars {
			if v.Name == name {
				return v.Default
			}
		}
		panic("config: undeclared variable " + name) // a programming error, caught by tests
	}
	var errs []error
	shutdown, err := time.ParseDuration(get("SHUTDOWN_TIMEOUT"))
	if err != nil {
		errs = append(errs, fmt.Errorf("SHUTDOWN_TIMEOUT: %w", err))
	}
	c := Config{
		Env:               get("SMSFLOW_ENV"),
		DatabaseURL:       get("DATABASE_URL"),
		TemporalAddress:   get("TEMPORAL_ADDRESS"),
		TemporalNamespace: get("TEMPORAL_NAMESPACE"),
		TemporalTaskQueue: get("TEMPORAL_TASK_QUEUE"),
		APIAddr:           get("API_ADDR"),
		PublicBaseURL:     strings.TrimRight(get("PUBLIC_BASE_URL"), "/"),
		ShutdownTimeout:   shutdown,
		PhoneHashKey:      get("PHONE_HASH_KEY"),
		PayloadKeys:       get("PAYLOAD_KEYS"),
		Codec:             CodecServer{Addr: get("CODEC_SERVER_ADDR"), Token: get("CODEC_SERVER_TOKEN")},
		MetricsAddr:       get("METRICS_ADDR"),
		MetricsToken:      get("METRICS_TOKEN"),
		AdminToken:        get("ADMIN_TOKEN"),
		Temporal: Temporal{
			TLSCert: get("TEMPORAL_TLS_CERT"), TLSKey: get("TEMPORAL_TLS_KEY"), TLSCA: get("TEMPORAL_TLS_CA"),
			TLSServerName: get("TEMPORAL_TLS_SERVER_NAME"), APIKey: get("TEMPORAL_API_KEY"),
		},
		HubSpot: HubSpot{
			APIBaseURL:   strings.TrimRight(get("HUBSPOT_API_BASE_URL"), "/"),
			AppID:        get("HUBSPOT_APP_ID"),
			ClientID:     get("HUBSPOT_CLIENT_ID"),
			ClientSecret: get("HUBSPOT_CLIENT_SECRET"),
			TokenKey:     get("TOKEN_ENCRYPTION_KEY"),
			TokenKeys:    get("TOKEN_ENCRYPTION_KEYS"),

			AuthorizeURL:         get("HUBSPOT_AUTHORIZE_URL"),
			Scopes:               get("HUBSPOT_SCOPES"),
			OptionalScopes:       get("HUBSPOT_OPTIONAL_SCOPES"),
			Paths:                get("HUBSPOT_PATHS"),
			CallbackDoneStatuses: get("HUBSPOT_CALLBACK_DONE_STATUSES"),
			TimelineTemplates:    get("HUBSPOT_TIMELINE_TEMPLATES"),
			FakeAddr:             get("FAKEHUBSPOT_ADDR"),
			DeveloperAPIKey:      get("HUBSPOT_DEVELOPER_API_KEY"),
		},
		Carrier: Carrier{
			Primary:             get("CARRIER_PRIMARY"),
			Secondary:           get("CARRIER_SECONDARY"),
			SimURL:              strings.TrimRight(get("CARRIER_SIM_URL"), "/"),
			TwilioBaseURL:       strings.TrimRight(get("TWILIO_BASE_URL"), "/"),
			TwilioAccountSID:    get("TWILIO_ACCOUNT_SID"),
			TwilioAuthToken:     get("TWILIO_AUTH_TOKEN"),
			VonageBaseURL:       strings.TrimRight(get("VONAGE_BASE_URL"), "/"),
			VonageAPIKey:        get("VONAGE_API_KEY"),
			VonageAPISecret:     get("VONAGE_API_SECRET"),
			VonageVoiceBaseURL:  strings.TrimRight(get("VONAGE_VOICE_BASE_URL"), "/"),
			VonageApplicationID: get("VONAGE_APPLICATION_ID"),
			VonagePrivateKey:    get("VONAGE_PRIVATE_KEY"),
			WebhookSecret:       get("CARRIER_WEBHOOK_SECRET"),
			StopShortCode:       get("STOP_SHORT_CODE"),

			VonageSignatureSecret: get("VONAGE_SIGNATURE_SECRET"),
			VonageSignatureMethod: get("VONAGE_SIGNATURE_METHOD"),
			SimAddr:               get("CARRIERSIM_ADDR"),
			SimOptions:            get("CARRIERSIM_OPTIONS"),
			Health:                get("CARRIER_HEALTH"),
		},
	}
	var more []error
	c.Sending, more = parseSending(get)
	errs = append(errs, more...)
	c.Worker, more = parseWorker(get)
	errs = append(errs, more...)
	switch c.Env {
	case Production, Development:
	default:
		errs = append(errs, fmt.Errorf("SMSFLOW_ENV: %q is not one of %s, %s", c.Env, Production, Development))
	}
	if c.PayloadKeys == "" && c.Env == Development {
		c.PayloadKeys = DevPayloadKeys
	}
	if c.PayloadKeys != "" {
		if _, err := payloadcodec.ParseKeys(c.PayloadKeys); err != nil {
			errs = append(errs, fmt.Errorf("PAYLOAD_KEYS: %w", err))
		}
	}
	for _, o := range strings.Split(get("CODEC_SERVER_ORIGINS"), ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			errs = append(errs, fmt.Errorf("CODEC_SERVER_ORIGINS: %q is not an origin (scheme://host[:port])", o))
		}
		c.Codec.Origins = append(c.Codec.Origins, o)
	}
	if (c.Temporal.TLSCert == "") != (c.Temporal.TLSKey == "") {
		errs = append(errs, errors.New("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: set both or neither"))
	}
	if v := get("DATABASE_MAX_CONNS"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 32); err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("DATABASE_MAX_CONNS: %q is not a positive integer", v))
		} else {
			c.DatabaseMaxConns = int32(n)
		}
	}
	if err := checkTokenKeyIDs(c.HubSpot.TokenKeys); err != nil {
		errs = append(errs, err)
	}
	if ttl, err := parseDays(get("LINK_TTL")); err != nil || ttl <= 0 {
		errs = append(errs, fmt.Errorf("LINK_TTL: %q is not a positive duration (e.g. 400d or 720h)", get("LINK_TTL")))
	} else {
		c.LinkTTL = ttl
	}
	if r, err := parseDays(get("MESSAGE_RETENTION")); err != nil || r < 24*time.Hour {
		errs = append(errs, fmt.Errorf("MESSAGE_RETENTION: %q is not a duration of at least a day (e.g. 365d or 8760h)", get("MESSAGE_RETENTION")))
	} else {
		c.MessageRetention = r
	}
	if n, err := strconv.ParseInt(get("HTTP_MAX_BODY_BYTES"), 10, 64); err != nil || n < 1 {
		errs = append(errs, fmt.Errorf("HTTP_MAX_BODY_BYTES: %q is not a positive integer", get("HTTP_MAX_BODY_BYTES")))
	} else {
		c.HTTP.MaxBodyBytes = n
	}
	for _, p := range strings.Split(get("HTTP_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			errs = append(errs, fmt.Errorf("HTTP_TRUSTED_PROXIES: %q is not an IP address or CIDR", p))
		}
		c.HTTP.TrustedProxies = append(c.HTTP.TrustedProxies, p)
	}
	for _, l := range []struct {
		name string
		dst  *RateLimit
	}{{"LINK_LIMIT_PER_IP", &c.HTTP.LinkPerIP}, {"LINK_LIMIT_PER_CODE", &c.HTTP.LinkPerCode}} {
		rate, burst, ok := strings.Cut(get(l.name), ",")
		r, rerr := strconv.ParseFloat(strings.TrimSpace(rate), 64)
		b, berr := strconv.ParseFloat(strings.TrimSpace(burst), 64)
		if !ok || rerr != nil || berr != nil || r <= 0 || b < 1 {
			errs = append(errs, fmt.Errorf("%s: %q is not `requests a second,burst` (e.g. 1,30)", l.name, get(l.name)))
			continue
		}
		*l.dst = RateLimit{PerSecond: r, Burst: b}
	}
	if c.Carrier.VonageSignatureSecret == "" {
		c.Carrier.VonageSignatureSecret = c.Carrier.VonageAPISecret
	}
	switch c.Carrier.VonageSignatureMethod {
	case "md5hash", "md5", "sha1", "sha256", "sha512":
	default:
		errs = append(errs, fmt.Errorf("VONAGE_SIGNATURE_METHOD: %q is not one of md5hash, md5, sha1, sha256, sha512", c.Carrier.VonageSignatureMethod))
	}
	if n, err := strconv.Atoi(get("HUBSPOT_BUDGET_TEN_SECONDLY")); err != nil || n < 1 {
		errs = append(errs, fmt.Errorf("HUBSPOT_BUDGET_TEN_SECONDLY: %q is not a positive integer", get("HUBSPOT_BUDGET_TEN_SECONDLY")))
	} else {
		c.HubSpot.BudgetTenSecondly = n
	}
	if n, err := strconv.ParseInt(get("HUBSPOT_BUDGET_DAILY"), 10, 64); err != nil || n < 1 {
		errs = append(errs, fmt.Errorf("HUBSPOT_BUDGET_DAILY: %q is not a positive integer", get("HUBSPOT_BUDGET_DAILY")))
	} else {
		c.HubSpot.BudgetDaily = n
	}
	if n, err := strconv.Atoi(get("CARRIER_BREAKER_FAILURES")); err != nil || n < 1 {
		errs = append(errs, fmt.Errorf("CARRIER_BREAKER_FAILURES: %q is not a positive integer", get("CARRIER_BREAKER_FAILURES")))
	} else {
		c.Carrier.BreakerFailures = n
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{
		{"CARRIER_BREAKER_OPEN", &c.Carrier.BreakerOpenTimeout}, {"CARRIER_SEND_TIMEOUT", &c.Carrier.SendTimeout},
		{"HTTP_READ_HEADER_TIMEOUT", &c.HTTP.ReadHeaderTimeout}, {"HTTP_READ_TIMEOUT", &c.HTTP.ReadTimeout},
		{"HTTP_WRITE_TIMEOUT", &c.HTTP.WriteTimeout}, {"HTTP_IDLE_TIMEOUT", &c.HTTP.IdleTimeout},
		{"HTTP_DB_TIMEOUT", &c.HTTP.DBTimeout}, {"WORKER_STOP_TIMEOUT", &c.WorkerStopTimeout},
		{"DELIVERY_REPORT_TTL", &c.DeliveryReportTTL},
	} {
		v, err := time.ParseDuration(get(d.name))
		if err != nil || v <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration", d.name, get(d.name)))
		}
		*d.dst = v
	}
	if c.WorkerStopTimeout > 0 && c.Carrier.SendTimeout > 0 && c.WorkerStopTimeout < c.Carrier.SendTimeout {
		errs = append(errs, fmt.Errorf("WORKER_STOP_TIMEOUT: %s is shorter than CARRIER_SEND_TIMEOUT (%s): a stopping worker would cut carrier calls",
			c.WorkerStopTimeout, c.Carrier.SendTimeout))
	}
	for _, name := range strings.Split(get("CARRIER_AT_LEAST_ONCE"), ",") {
		if name = strings.TrimSpace(name); name != "" {
			c.Carrier.AtLeastOnce = append(c.Carrier.AtLeastOnce, name)
		}
	}
	for _, u := range []struct{ name, val string }{
		{"PUBLIC_BASE_URL", c.PublicBaseURL}, {"HUBSPOT_API_BASE_URL", c.HubSpot.APIBaseURL},
		{"CARRIER_SIM_URL", c.Carrier.SimURL}, {"TWILIO_BASE_URL", c.Carrier.TwilioBaseURL},
		{"VONAGE_BASE_URL", c.Carrier.VonageBaseURL},
	} {
		if p, err := url.Parse(u.val); err != nil || p.Scheme == "" || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not an absolute URL", u.name, u.val))
		}
	}
	for _, cr := range []struct{ name, val string }{{"CARRIER_PRIMARY", c.Carrier.Primary}, {"CARRIER_SECONDARY", c.Carrier.Secondary}} {
		switch cr.val {
		case "sim", "twilio", "vonage":
		case "":
			if cr.name == "CARRIER_PRIMARY" {
				errs = append(errs, errors.New("CARRIER_PRIMARY: must be set"))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: %q is not one of sim, twilio, vonage", cr.name, cr.val))
		}
	}
	return c, errors.Join(errs...)
}

// TokenKeyring is the token keys as store.NewTokens reads them: TOKEN_ENCRYPTION_KEYS, then
// TOKEN_ENCRYPTION_KEY as key 0.
func (h HubSpot) TokenKeyring() string {
	switch {
	case h.TokenKeys == "":
		return h.TokenKey
	case h.TokenKey == "":
		return h.TokenKeys
	}
	return h.TokenKeys + ",0:" + h.TokenKey
}

// tokenKeyEntries splits TOKEN_ENCRYPTION_KEYS into its id and key pairs.
func tokenKeyEntries(keys string) [][2]string {
	var out [][2]string
	for _, e := range strings.Split(keys, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		id, key, _ := strings.Cut(e, ":")
		out = append(out, [2]string{strings.TrimSpace(id), strings.TrimSpace(key)})
	}
	return out
}

// checkTokenKeyIDs checks the form of TOKEN_ENCRYPTION_KEYS (the keys themselves are checked when
// the token store reads them), without ever quoting a key.
func checkTokenKeyIDs(keys string) error {
	seen := map[string]bool{}
	for i, e := range tokenKeyEntries(keys) {
		switch {
		case e[0] == "" || e[1] == "" || strings.ContainsAny(e[0], " \t"):
			return fmt.Errorf("TOKEN_ENCRYPTION_KEYS: entry %d is not id:key", i+1)
		case seen[e[0]]:
			return fmt.Errorf("TOKEN_ENCRYPTION_KEYS: key id %q appears twice", e[0])
		}
		seen[e[0]] = true
	}
	return nil
}

// parseDays reads a Go duration or a whole number of days ("400d").
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, err
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Carriers lists the configured carriers, primary first.
func (c Config) Carriers() []string {
	var out []string
	if c.Carrier.Primary != "" {
		out = append(out, c.Carrier.Primary)
	}
	if c.Carrier.Secondary != "" && c.Carrier.Secondary != c.Carrier.Primary {
		out = append(out, c.Carrier.Secondary)
	}
	return out
}

// UsesCarrier reports whether name is the primary or the secondary carrier.
func (c Config) UsesCarrier(name string) bool {
	for _, n := range c.Carriers() {
		if n == name {
			return true
		}
	}
	return false
}

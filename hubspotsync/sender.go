package hubspotsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"smsflow/config"
	"smsflow/hubspot"
	"smsflow/store"
)

// TimelineScope is the OAuth scope that lets the app write timeline events (granted to HubSpot's
// timeline partners only).
const TimelineScope = "timeline"

// Sender delivers the HubSpot outbox and completes HubSpot actions. Each pass takes the portals
// with due rows; a portal is delivered by one sender at a time (a lease in PostgreSQL), so several
// workers may run senders: they share the portals, never a row, and a portal's writes keep their
// order. Completions have their own lease and loop, and go in batches of up to 100 ahead of the
// outbox's backlog in the portal's budget.
type Sender struct {
	Store   *store.Store
	HubSpot *hubspot.Client
	// Templates maps statuses to timeline event template ids; a status without one is a note.
	Templates map[string]string
	Log       *slog.Logger

	// Owner names this sender in the portal leases (default: a random id).
	Owner string
	// PollInterval is the wait after a pass that took less than a full batch (default 1 s): the
	// time rows have to gather into a batch.
	PollInterval time.Duration
	// ClaimSize is how many rows of a portal are taken at once (default 1,000: ten full batches
	// when timeline and properties rows come in pairs).
	ClaimSize int
	// Concurrency is how many portals are delivered at once (default 4).
	Concurrency int
	// Lease is how long a portal and its claimed rows stay with a sender that stops answering
	// (default 5 minutes, more than a claim's calls take with their rate-limit waits); it is
	// renewed at each claim.
	Lease time.Duration
	// MaxAttempts is how many failed tries make a row dead (default 20, about a day of back-off).
	MaxAttempts int
	// RetryBase and RetryMax bound the back-off after a 5xx or a broken connection (default 5 s
	// doubling up to 1 h).
	RetryBase, RetryMax time.Duration
	// Retention is how long finished rows are kept (default 48 h): a retried Publish within it
	// enqueues nothing again.
	Retention time.Duration
	// Temporal completes the CompleteAction activities left pending on a completion (nil: their
	// next attempts find their completions ended).
	Temporal ActivityCompleter
	// CompletionPoll is the wait after a completion pass that took less than a full batch
	// (default 1 s): an action is completed within about that of its outcome, and completions
	// reached meanwhile share its call.
	CompletionPoll time.Duration
	// CompletionMaxAge is how long a completion is retried after 5xx and broken connections
	// (default 72 h, past the activity's own two days).
	CompletionMaxAge time.Duration
	// Now is the clock (tests move it).
	Now func() time.Time

	once    sync.Once
	purgeAt time.Time
	cursor  atomic.Int64 // the last portal served, where the next pass starts
}

// FromConfig builds the sender of a deployment, with its own HubSpot client over the portals'
// stored tokens.
func FromConfig(cfg config.Config, db *store.Store, log *slog.Logger) (*Sender, error) {
	c, err := hubspot.NewPortalClient(cfg, db, log)
	if err != nil {
		return nil, err
	}
	templates, err := hubspot.ParseTemplates(cfg.HubSpot.TimelineTemplates)
	if err != nil {
		return nil, err
	}
	return &Sender{Store: db, HubSpot: c, Templates: templates, Log: log}, nil
}

func (s *Sender) defaults() {
	s.once.Do(func() {
		s.cursor.Store(math.MinInt64)
		if s.Owner == "" {
			s.Owner = "sender-" + uuid.NewString()
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		def := func(d *time.Duration, v time.Duration) {
			if *d <= 0 {
				*d = v
			}
		}
		def(&s.PollInterval, time.Second)
		def(&s.Lease, 5*time.Minute)
		def(&s.RetryBase, 5*time.Second)
		def(&s.RetryMax, time.Hour)
		def(&s.Retention, 48*time.Hour)
		def(&s.CompletionPoll, time.Second)
		def(&s.CompletionMaxAge, 72*time.Hour)
		if s.ClaimSize <= 0 {
			s.ClaimSize = 10 * hubspot.MaxBatchInputs
		}
		if s.Concurrency <= 0 {
			s.Concurrency = 4
		}
		if s.MaxAttempts <= 0 {
			s.MaxAttempts = 20
		}
	})
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Run delivers the outbox until ctx ends: a pass, then another at once while passes take full
// batches (a backlog), else after PollInterval, so that rows arriving one by one gather into
// batches instead of costing a HubSpot call each. Finished rows past the retention are purged on
// the way.
func (s *Sender) Run(ctx context.Context) error {
	s.defaults()
	s.Log.Info("hubspot outbox sender started", "owner", s.Owner)
	completions := make(chan struct{})
	go func() { defer close(completions); s.runCompletions(ctx) }()
	defer func() { <-completions }()
	wait := s.PollInterval
	for {
		n, err := s.deliverOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			// PostgreSQL away, or not migrated yet: wait longer each time, up to 5 s, so the
			// backlog moves again within seconds of the database coming back.
			s.Log.Warn("hubspot outbox pass failed", "error", err, "retry_in", wait)
			wait = min(2*wait, 5*time.Second)
		case n >= hubspot.MaxBatchInputs:
			wait = s.PollInterval
			s.purge(ctx)
			continue
		default:
			wait = s.PollInterval
			s.purge(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// RunOnce makes one pass of completions, then one of the outbox, and returns how many
// completions and rows were finished.
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	s.defaults()
	completed, err := s.completeOnce(ctx)
	if err != nil {
		return completed, err
	}
	delivered, err := s.deliverOnce(ctx)
	return completed + delivered, err
}

// deliverOnce makes one pass of the outbox: every portal with due rows that no other sender holds
// is delivered, Concurrency at a time. It returns how many rows were finished (done or dead).
func (s *Sender) deliverOnce(ctx context.Context) (int, error) {
	portals, err := s.duePortals(ctx)
	if err != nil {
		return 0, err
	}
	return s.eachPortal(ctx, portals, s.deliverPortal)
}

// eachPortal runs do for each portal, Concurrency at a time, and returns how many rows they
// finished and their errors.
func (s *Sender) eachPortal(ctx context.Context, portals []int64, do func(context.Context, int64) (int, error)) (int, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		finished int
		errs     []error
	)
	slots := make(chan struct{}, s.Concurrency)
	for _, portal := range portals {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			n, err := do(ctx, portal)
			mu.Lock()
			defer mu.Unlock()
			finished += n
			if err != nil {
				errs = append(errs, fmt.Errorf("portal %d: %w", portal, err))
			}
		}()
	}
	wg.Wait()
	return finished, errors.Join(errs...)
}

// completionRetention is how long ended completions are kept.
const completionRetention = 7 * 24 * time.Hour

// portalsPerPass bounds the portals of one pass.
const portalsPerPass = 100

// duePortals lists the portals of the next pass: those after the last pass's, then from the
// start, so that with more portals than a pass takes every one gets its turn.
func (s *Sender) duePortals(ctx context.Context) ([]int64, error) {
	portals, err := s.Store.OutboxPortals(ctx, s.now(), s.Owner, s.cursor.Load(), portalsPerPass)
	if err != nil {
		return nil, err
	}
	if len(portals) < portalsPerPass && s.cursor.Load() != math.MinInt64 {
		more, err := s.Store.OutboxPortals(ctx, s.now(), s.Owner, math.MinInt64, portalsPerPass-len(portals))
		if err != nil {
			return nil, err
		}
		for _, p := range more {
			if !slices.Contains(portals, p) {
				portals = append(portals, p)
			}
		}
	}
	if len(portals) > 0 {
		s.cursor.Store(portals[len(portals)-1])
	}
	return portals, nil
}

// Drain runs passes until one finds nothing to do (tests, and a worker shutting down cleanly).
func (s *Sender) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.RunOnce(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

func (s *Sender) purge(ctx context.Context) {
	now := s.now()
	if now.Before(s.purgeAt) {
		return
	}
	s.purgeAt = now.Add(10 * time.Minute)
	// Completions are kept a week: an attempt of CompleteAction within it finds its completion.
	if _, err := s.Store.PurgeCompletions(ctx, now.Add(-completionRetention), 10000); err != nil {
		s.Log.Warn("hubspot completions purge failed", "error", err)
	}
	for {
		n, err := s.Store.PurgeOutbox(ctx, now.Add(-s.Retention), 10000)
		if err != nil {
			s.Log.Warn("hubspot outbox purge failed", "error", err)
			return
		}
		if n < 10000 {
			return
		}
	}
}

// deliverPortal delivers a portal's due rows while it holds the portal's lease.
func (s *Sender) deliverPortal(ctx context.Context, portal int64) (int, error) {
	ok, err := s.Store.LeaseOutboxPortal(ctx, portal, s.Owner, s.now(), s.Lease)
	if err != nil || !ok {
		return 0, err
	}
	defer func() {
		if err := s.Store.ReleaseOutboxPortal(context.WithoutCancel(ctx), portal, s.Owner); err != nil {
			s.Log.Warn("hubspot outbox lease not released", "portal_id", portal, "error", err)
		}
	}()
	settings, err := s.Store.PortalSettingsOf(ctx, portal)
	if err != nil {
		return 0, err
	}
	if !settings.Connected {
		return s.dropPortal(ctx, portal, "portal disconnected")
	}
	if !settings.PropertiesReady {
		// HubSpot refuses writes to properties that do not exist: finish the install first.
		if err := hubspot.SetUpPortal(ctx, s.HubSpot, s.Store, portal); err != nil {
			p := &pass{s: s, portal: portal}
			if p.halt(err) {
				return p.haltPortal(ctx)
			}
			s.Log.Warn("hubspot portal set-up failed; delivering anyway", "portal_id", portal, "error", err)
		}
	}
	finished := 0
	// A few claims per pass: a portal with a large backlog gives its slot back now and then, so
	// the other portals' rows are not stuck behind it.
	for claims := 0; claims < claimsPerPass && ctx.Err() == nil; claims++ {
		if claims > 0 { // renew the lease taken above for the next claim
			if ok, err := s.Store.LeaseOutboxPortal(ctx, portal, s.Owner, s.now(), s.Lease); err != nil || !ok {
				return finished, err
			}
		}
		p := &pass{s: s, portal: portal, claim: uuid.NewString(), settings: settings, retry: map[int64]error{}, dead: map[int64]error{}}
		rows, err := s.Store.ClaimOutbox(ctx, portal, p.claim, s.now(), s.Lease, s.ClaimSize)
		if err != nil || len(rows) == 0 {
			return finished, err
		}
		p.deliver(ctx, rows)
		n, err := p.saveRetrying(ctx, rows)
		finished += n
		if err != nil || p.halted() {
			return finished, err
		}
	}
	return finished, nil
}

// claimsPerPass bounds the claims of one portal in one pass.
const claimsPerPass = 10

// dropPortal kills every pending row of a portal that can no longer be written to.
func (s *Sender) dropPortal(ctx context.Context, portal int64, reason string) (int, error) {
	n, err := s.Store.KillPortalOutbox(ctx, portal, s.now(), reason)
	if n > 0 {
		s.Log.Warn("hubspot outbox rows dropped", "portal_id", portal, "rows", n, "reason", reason)
	}
	return int(n), err
}

// pass is the delivery of one claim of a portal's rows: each row ends done, retried, dead, or
// given back when the portal must stop (rate limited, disconnected).
type pass struct {
	s        *Sender
	portal   int64
	claim    string
	settings store.PortalSettings

	done     []int64
	retry    map[int64]error
	dead     map[int64]error
	released []int64

	// Why the portal stops: a pause until a time, or its rows dropped.
	pauseUntil  time.Time
	pauseReason string
	drop        string
}

func (p *pass) halted() bool { return !p.pauseUntil.IsZero() || p.drop != "" }

// halt says whether err stops the whole portal, and records why.
func (p *pass) halt(err error) bool {
	var rl *hubspot.RateLimitedError
	switch {
	case errors.Is(err, hubspot.ErrPortalDisconnected):
		p.drop = "portal disconnected"
	case errors.Is(err, hubspot.ErrNoToken):
		p.drop = "portal not installed"
	case errors.As(err, &rl):
		p.pauseUntil, p.pauseReason = p.s.now().Add(max(rl.RetryAfter, time.Second)), "rate limited ("+rl.Policy+")"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The sender stops: the rows go back as they were, due now, for the next sender.
		p.pauseUntil, p.pauseReason = p.s.now(), "sender stopped"
	default:
		return false
	}
	return true
}

// haltPortal applies a halt outside a claim (the set-up).
func (p *pass) haltPortal(ctx context.Context) (int, error) {
	if p.drop != "" {
		return p.s.dropPortal(ctx, p.portal, p.drop)
	}
	p.s.Log.Warn("hubspot outbox portal paused", "portal_id", p.portal, "until", p.pauseUntil, "reason", p.pauseReason)
	return 0, p.s.Store.PauseOutboxPortal(ctx, p.portal, p.pauseUntil, p.pauseReason)
}

// finish records the fate of rows after a write: err nil → done; a portal-wide stop → given back;
// a permanent refusal → dead; anything else → retried.
func (p *pass) finish(err error, rows ...store.OutboxRow) {
	for _, r := range rows {
		switch {
		case err == nil:
			p.done = append(p.done, r.ID)
		case p.halted() || p.halt(err):
			p.released = append(p.released, r.ID)
		case permanent(err):
			p.dead[r.ID] = err
		default:
			p.retry[r.ID] = err
		}
	}
}

// permanent says whether HubSpot refused the write for good (a 4xx other than 401/429).
func permanent(err error) bool {
	var perm *hubspot.PermanentError
	var be *hubspot.BatchError
	return errors.As(err, &perm) || errors.As(err, &be)
}

// deliver writes a claim's rows: timeline rows (events or notes, in batches), then
// properties rows (one update per record, in batches per object type).
func (p *pass) deliver(ctx context.Context, rows []store.OutboxRow) {
	var timeline, props []store.OutboxRow
	for _, r := range rows {
		if r.Kind == store.OutboxProperties {
			props = append(props, r)
		} else {
			timeline = append(timeline, r)
		}
	}
	p.deliverTimeline(ctx, timeline)
	p.deliverProperties(ctx, props)
}

// save stores the rows' fates, the hubspot_error events of the dead ones, and the portal's
// pause or drop; it returns how many rows were finished.
// saveRetrying saves the pass's fates, trying again for up to half a minute: the rows were
// written to HubSpot, and a claim whose fates are lost (PostgreSQL restarting) would only come
// due again when its lease ends, minutes later.
func (p *pass) saveRetrying(ctx context.Context, rows []store.OutboxRow) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 4*time.Second) {
		n, err := p.save(ctx, rows)
		if err == nil || time.Now().Add(wait).After(deadline) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, err
		case <-time.After(wait):
		}
	}
}

func (p *pass) save(ctx context.Context, rows []store.OutboxRow) (int, error) {
	st, now := p.s.Store, p.s.now()
	ctx = context.WithoutCancel(ctx) // the fates of delivered rows are kept, also at shutdown
	if err := st.FinishOutbox(ctx, p.claim, p.done, now); err != nil {
		return 0, err
	}
	byID := map[int64]store.OutboxRow{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	// Rows failed together (a batch) usually share their wait and error: one update per group.
	type retryGroup struct {
		wait time.Duration
		err  string
	}
	groups := map[retryGroup][]int64{}
	for id, err := range p.retry {
		r := byID[id]
		if r.Attempts+1 >= p.s.MaxAttempts {
			p.dead[id] = fmt.Errorf("gave up after %d tries: %w", r.Attempts+1, err)
			continue
		}
		wait := p.s.RetryBase << min(r.Attempts, 20)
		if wait > p.s.RetryMax || wait <= 0 {
			wait = p.s.RetryMax
		}
		var un *hubspot.UnauthorizedError
		if errors.As(err, &un) {
			wait = hubspot.UnauthorizedRetryDelay
		}
		g := retryGroup{wait, err.Error()}
		groups[g] = append(groups[g], id)
	}
	for g, ids := range groups {
		if err := st.RetryOutbox(ctx, p.claim, ids, now.Add(g.wait), g.err, true); err != nil {
			return 0, err
		}
		p.s.Log.Warn("hubspot writes failed; retrying", "portal_id", p.portal, "rows", len(ids), "retry_in", g.wait, "error", g.err)
	}
	for id, err := range p.dead {
		r := byID[id]
		if err := st.KillOutbox(ctx, p.claim, []int64{id}, now, err.Error()); err != nil {
			return 0, err
		}
		if err := p.s.storeRefusal(ctx, r, err); err != nil {
			return 0, err
		}
	}
	if p.halted() {
		until := p.pauseUntil
		if p.drop != "" {
			until = now
		}
		if err := st.RetryOutbox(ctx, p.claim, p.released, until, p.pauseReason+p.drop, false); err != nil {
			return 0, err
		}
		if _, err := p.haltPortal(ctx); err != nil {
			return 0, err
		}
	}
	return len(p.done) + len(p.dead), nil
}

// storeRefusal stores a dead row as an event of its message, where the audit and the operators
// see it: the SMS was sent, HubSpot did not take its record of it.
func (s *Sender) storeRefusal(ctx context.Context, r store.OutboxRow, cause error) error {
	s.Log.Warn("hubspot refused a write; dropped", "portal_id", r.PortalID, "message_id", r.MessageID, "kind", r.Kind, "error", cause)
	detail, _ := json.Marshal(map[string]string{"error": cause.Error(), "kind": r.Kind, "object_type": r.ObjectType, "object_id": r.ObjectID})
	id := r.MessageID
	_, err := s.Store.AddEvent(ctx, store.Event{MessageID: &id, Source: "hubspot", SourceEventID: "hubspot_sync:" + r.DedupeKey,
		Kind: "hubspot_error", Status: hubspot.ErrTypePermanent, Detail: detail, OccurredAt: s.now().UTC()})
	return err
}

// chunks splits rows into slices of at most n.
func chunks[T any](rows []T, n int) [][]T {
	var out [][]T
	for len(rows) > 0 {
		k := min(n, len(rows))
		out = append(out, rows[:k])
		rows = rows[k:]
	}
	return out
}

func hasScope(scopes []string, scope string) bool { return slices.Contains(scopes, scope) }

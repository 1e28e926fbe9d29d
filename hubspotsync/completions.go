package hubspotsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"smsflow/hubspot"
	"smsflow/store"
)

// ActivityCompleter completes an activity left pending, by its task token (client.Client).
type ActivityCompleter interface {
	CompleteActivity(ctx context.Context, taskToken []byte, result any, err error) error
}

// completionsPerPass bounds the batches of one portal's completions in one pass.
const completionsPerPass = 10

// completionClaim is how long claimed completions, and the lease of a portal's completions, stay
// with their pass: a batch call and its bookkeeping, with margin. Short, because a pass that cannot finish (the database away, the
// process gone) must not hold an action's completion for long; should a slow pass outlive it,
// another completes the same callbacks again, which HubSpot answers as already completed.
const completionClaim = 30 * time.Second

// runCompletions completes HubSpot actions until ctx ends: a pass, then another at once while
// passes take full batches, else after CompletionPoll, so that completions reached one by one
// gather into batches (a second at most of the action's wait, against a call each).
func (s *Sender) runCompletions(ctx context.Context) {
	wait := s.CompletionPoll
	for {
		n, err := s.completeOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.Log.Warn("hubspot completion pass failed", "error", err, "retry_in", wait)
			wait = min(2*wait, 5*time.Second)
		case n >= hubspot.MaxBatchInputs:
			wait = s.CompletionPoll
			continue
		default:
			wait = s.CompletionPoll
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// completeOnce makes one pass over the portals with due completions, Concurrency at a time, and
// returns how many completions ended.
func (s *Sender) completeOnce(ctx context.Context) (int, error) {
	portals, err := s.Store.CompletionPortals(ctx, s.now(), s.Owner, portalsPerPass)
	if err != nil {
		return 0, err
	}
	return s.eachPortal(ctx, portals, s.completePortal)
}

// completePortal completes a portal's due actions, in batches of up to 100, while it holds the
// lease of the portal's completions.
func (s *Sender) completePortal(ctx context.Context, portal int64) (int, error) {
	ok, err := s.Store.LeaseCompletions(ctx, portal, s.Owner, s.now(), completionClaim)
	if err != nil || !ok {
		return 0, err
	}
	defer func() {
		if err := s.Store.ReleaseCompletions(context.WithoutCancel(ctx), portal, s.Owner); err != nil {
			s.Log.Warn("hubspot completion lease not released", "portal_id", portal, "error", err)
		}
	}()
	ended := 0
	for batch := 0; batch < completionsPerPass && ctx.Err() == nil; batch++ {
		if batch > 0 {
			if ok, err := s.Store.LeaseCompletions(ctx, portal, s.Owner, s.now(), completionClaim); err != nil || !ok {
				return ended, err
			}
		}
		claim := uuid.NewString()
		rows, err := s.Store.ClaimCompletions(ctx, portal, claim, s.now(), completionClaim, hubspot.MaxBatchInputs)
		if err != nil || len(rows) == 0 {
			return ended, err
		}
		c := &completionPass{s: s, portal: portal, claim: claim}
		c.complete(ctx, rows)
		n, err := c.save(context.WithoutCancel(ctx))
		ended += n
		if err != nil || c.stopped {
			return ended, err
		}
	}
	return ended, nil
}

// completionPass is one batch of a portal's completions and the fate of each.
type completionPass struct {
	s       *Sender
	portal  int64
	claim   string
	ends    []store.CompletionEnd
	retries map[retryKey][]string
	// stopped: the portal must wait (a rate limit, the sender stopping); the rows left go back.
	stopped bool
}

type retryKey struct {
	at    time.Time
	err   string
	count bool
}

// complete completes the rows in one batch call; when HubSpot refuses the batch as a whole, one by
// one, so that each gets its own answer.
func (c *completionPass) complete(ctx context.Context, rows []store.CompletionRow) {
	c.retries = map[retryKey][]string{}
	batch := make([]hubspot.Completion, len(rows))
	for i, r := range rows {
		batch[i] = hubspot.Completion{CallbackID: r.CallbackID, Outputs: r.Outputs}
	}
	err := c.s.HubSpot.CompleteCallbackBatch(ctx, c.portal, batch)
	if !batchRefused(err) {
		for _, r := range rows {
			c.fate(r, err)
		}
		return
	}
	for _, r := range rows {
		if c.stopped {
			c.fate(r, context.Canceled)
			continue
		}
		c.fate(r, c.s.HubSpot.CompleteCallback(ctx, c.portal, r.CallbackID, r.Outputs))
	}
}

// batchRefused says whether HubSpot refused a batch as a whole for what one of its inputs is (a
// 4xx other than 401 and 429).
func batchRefused(err error) bool {
	var perm *hubspot.PermanentError
	return errors.As(err, &perm) && perm.API.Status >= http.StatusBadRequest
}

// fate records what a completion's call did.
func (c *completionPass) fate(r store.CompletionRow, err error) {
	now := c.s.now()
	var rl *hubspot.RateLimitedError
	switch {
	case err == nil:
		c.ends = append(c.ends, store.CompletionEnd{Row: r, RecordOutcome: true})
	case errors.Is(err, hubspot.ErrPortalDisconnected):
		// Nobody can complete it now; HubSpot expires the action after hs_expiration_duration.
		c.ends = append(c.ends, store.CompletionEnd{Row: r, Error: err.Error()})
	case errors.As(err, &rl):
		c.stopped = true
		c.retry(r, now.Add(max(rl.RetryAfter, time.Second)), err, false)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		c.stopped = true
		c.retry(r, now, err, false)
	case permanent(err):
		c.ends = append(c.ends, c.refused(r, err))
	case now.Sub(r.CreatedAt) >= c.s.CompletionMaxAge:
		c.ends = append(c.ends, store.CompletionEnd{Row: r, Dead: true, ErrorType: hubspot.ErrTypeTemporary,
			Error: fmt.Sprintf("gave up after %d tries: %v", r.Attempts+1, err)})
	default:
		wait := c.s.RetryBase << min(r.Attempts, 20)
		if wait > c.s.RetryMax || wait <= 0 {
			wait = c.s.RetryMax
		}
		var un *hubspot.UnauthorizedError
		if errors.As(err, &un) {
			wait = hubspot.UnauthorizedRetryDelay
		}
		c.retry(r, now.Add(wait), err, true)
	}
}

func (c *completionPass) retry(r store.CompletionRow, at time.Time, err error, count bool) {
	k := retryKey{at: at, err: err.Error(), count: count}
	c.retries[k] = append(c.retries[k], r.CallbackID)
}

// refused is the end of a completion HubSpot refused for good: kept on the message as
// CompleteAction keeps it (a hubspot_error event), and the step goes on.
func (c *completionPass) refused(r store.CompletionRow, err error) store.CompletionEnd {
	c.s.Log.Warn("hubspot refused an action completion", "portal_id", c.portal, "message_id", r.MessageID, "error", err)
	detail, _ := json.Marshal(map[string]string{"error": err.Error()})
	var id *string
	if r.MessageID != "" {
		m := r.MessageID
		id = &m
	}
	ev := store.Event{MessageID: id, Source: "hubspot",
		SourceEventID: "hubspot_complete:" + r.CallbackID + ":" + r.MessageID + ":" + hubspot.ErrTypePermanent,
		Kind:          "hubspot_error", Status: hubspot.ErrTypePermanent, Detail: detail, OccurredAt: c.s.now().UTC()}
	return store.CompletionEnd{Row: r, Dead: true, ErrorType: hubspot.ErrTypePermanent, Error: err.Error(), Event: &ev}
}

// save stores the fates, then completes the activities of the ended completions (a failed
// completion of an activity is left to its timeout: its next attempt finds the completion ended).
func (c *completionPass) save(ctx context.Context) (int, error) {
	st := c.s.Store
	for k, ids := range c.retries {
		if err := st.RetryCompletions(ctx, c.claim, ids, k.at, k.err, k.count); err != nil {
			return 0, err
		}
		c.s.Log.Warn("hubspot completions not made; retrying", "portal_id", c.portal, "completions", len(ids), "retry_at", k.at, "error", k.err)
	}
	tokens, err := st.EndCompletions(ctx, c.claim, c.ends, c.s.now())
	if err != nil {
		return 0, err
	}
	for _, e := range c.ends {
		token := tokens[e.Row.CallbackID]
		if len(token) == 0 || c.s.Temporal == nil {
			continue
		}
		var result error
		if e.Dead && e.ErrorType != hubspot.ErrTypePermanent {
			result = temporal.NewNonRetryableApplicationError(e.Error, e.ErrorType, nil)
		}
		err := c.s.Temporal.CompleteActivity(ctx, token, nil, result)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			c.s.Log.Warn("activity of a hubspot completion not completed; its next attempt will be", "portal_id", c.portal,
				"message_id", e.Row.MessageID, "error", err)
		}
	}
	return len(tokens), nil
}

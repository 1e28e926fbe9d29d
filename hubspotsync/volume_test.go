package hubspotsync_test

import (
	"flag"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/store"
)

var volumeMessages = flag.Int("volume-messages", 1000, "messages of TestVolumeWithinBudget")

// At volume, against a fake HubSpot enforcing 110 calls per 10 s with the portal's budget taken
// by every call: each message has two status changes (sent, delivered) and its action's
// completion. The outbox and the completions drain with no 429, at most 0.2 HubSpot calls per
// status change; the completions go ahead of the backlog, and one queued while the backlog drains
// is made within seconds.
func TestVolumeWithinBudget(t *testing.T) {
	t.Run("timeline", func(t *testing.T) { volumeWithinBudget(t, timelineScopes) })
	t.Run("notes", func(t *testing.T) { volumeWithinBudget(t, []string{"oauth", "automation"}) })
}

func volumeWithinBudget(t *testing.T, scopes []string) {
	e := newEnv(t, scopes)
	e.client.Budget = &hubspot.Limiter{Store: e.db}
	e.sender.CompletionPoll = 50 * time.Millisecond
	n := *volumeMessages
	var completions []store.CompletionItem
	for i := range n {
		id := strconv.Itoa(10000 + i)
		e.contacts(portal, id)
		m := newMsg(id, e.clock.Now())
		e.publish(t, m, outcome.SMSSent, nil)
		e.publish(t, m, outcome.SMSDelivered, nil)
		completions = append(completions, store.CompletionItem{CallbackID: "cb-" + m.id, PortalID: portal, MessageID: m.id,
			Outputs: map[string]string{"message_id": m.id, "sms_status": "SMS_DELIVERED", hubspot.OutputState: hubspot.StateSuccess}})
	}
	for _, c := range completions {
		if _, err := e.db.QueueCompletion(e.ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	statusChanges := 2 * n
	e.hs.RateLimit = 110
	before := len(e.hs.Calls())

	start := time.Now()
	e.runSenderUntilEnd(t)
	// A message reaching its outcome while the outbox's backlog drains (the completions queued
	// before it went first).
	waitFor(t, func() bool { return e.pendingCompletions(t) == 0 })
	queuedAfter := time.Since(start)
	late := newMsg("99999", e.clock.Now())
	e.contacts(portal, "99999")
	e.publish(t, late, outcome.SMSDelivered, nil)
	statusChanges++
	lateAt := time.Now()
	if _, err := e.db.QueueCompletion(e.ctx, store.CompletionItem{CallbackID: "cb-late", PortalID: portal, MessageID: late.id,
		Outputs: map[string]string{"message_id": late.id, hubspot.OutputState: hubspot.StateSuccess}}); err != nil {
		t.Fatal(err)
	}
	var lateWait time.Duration
	backlog := 0 // outbox rows still pending when the late completion was made
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if lateWait == 0 {
			if f, _, _ := e.db.CompletionOf(e.ctx, "cb-late"); f.State == store.CompletionDone {
				lateWait, backlog = time.Since(lateAt), e.pending(t)
			}
		}
		if lateWait != 0 && e.pending(t) == 0 && e.pendingCompletions(t) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained: %d rows and %d completions pending", e.pending(t), e.pendingCompletions(t))
		}
	}
	drained := time.Since(start)
	calls := e.hs.Calls()[before:]
	byKind, limited := map[string]int{}, 0
	for _, c := range calls {
		if c.Status == http.StatusTooManyRequests {
			limited++
		}
		byKind[kindOf(c.Path)]++
	}
	perChange := float64(len(calls)) / float64(statusChanges)
	t.Logf("%d messages, %d status changes, %d completions: %d HubSpot calls (%v), %.3f calls per status change, %d 429s; drained in %s (%.1f messages/s); the completions were made in %s, then one more waited %s (%d outbox rows still pending then)",
		n, statusChanges, n+1, len(calls), byKind, perChange, limited, drained.Round(time.Millisecond), float64(n)/drained.Seconds(), queuedAfter.Round(time.Millisecond), lateWait.Round(time.Millisecond), backlog)
	if limited != 0 {
		t.Errorf("%d calls met a 429", limited)
	}
	if perChange > 0.2 {
		t.Errorf("%.3f HubSpot calls per status change, want at most 0.2", perChange)
	}
	if backlog == 0 {
		t.Error("the backlog was drained before the late completion: nothing measured")
	}
	if lateWait > 3*time.Second {
		t.Errorf("a completion waited %s behind the backlog", lateWait)
	}
	for _, c := range completions[:3] {
		if got := e.hs.Completed(c.CallbackID); got == nil || got.Count != 1 {
			t.Errorf("callback completed %+v, want once", got)
		}
	}
}

// kindOf names a HubSpot call by what it writes.
func kindOf(path string) string {
	switch {
	case strings.HasPrefix(path, callbacksPath):
		return "completions"
	case strings.Contains(path, "/timeline/"):
		return "timeline"
	case strings.Contains(path, "/notes"):
		return "notes"
	case strings.Contains(path, "/batch/update"):
		return "properties"
	}
	return "other"
}

// runSenderUntilEnd runs the sender until the test ends.
func (e *env) runSenderUntilEnd(t *testing.T) {
	(&temporalEnv{env: e}).runSender(t)
}

// pendingCompletions counts the completions not ended.
func (e *env) pendingCompletions(t testing.TB) int {
	t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(e.ctx, `SELECT count(*) FROM hubspot_completions WHERE state = 'pending'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

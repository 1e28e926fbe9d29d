// Package e2e runs smsflow whole: the real API and worker on the real Temporal dev server and
// PostgreSQL, with the carrier simulator and the fake HubSpot as the outside world.
package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"smsflow/activities"
	"smsflow/carrier/sim"
	"smsflow/hubspot/hubspottest"
	"smsflow/internal/harness"
	"smsflow/internal/testenv"
	"smsflow/store"
	"smsflow/workflows"
)

const portal = harness.Portal

// stack is one whole smsflow with its outside world, for one test.
type stack struct {
	*harness.Stack
	t       *testing.T
	tc      client.Client
	db      *store.Store
	hubspot *hubspottest.Fake
	sim     *sim.Sim
	apiURL  string
	clock   activities.ComplianceClock // the country windows' clock
}

type stackOptions struct {
	sim      sim.Options
	settings map[string]any    // the portal's settings
	env      map[string]string // configuration overrides
	// parisNow places the run's compliance clock at this Paris wall time (see
	// activities.Config.ComplianceClock); zero: the real clock. clockSpeed runs that clock
	// faster (compliance seconds per real second): a night in seconds.
	parisNow   time.Time
	clockSpeed float64
	// simAsTwilio reaches the simulator through the Twilio adapter (harness.Options.SimAsTwilio).
	simAsTwilio bool
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	tc := testenv.Temporal(t)
	ho := harness.Options{DatabaseURL: testenv.Database(t), TemporalAddress: os.Getenv("TEMPORAL_ADDRESS"),
		TaskQueue: "e2e-" + testenv.RandomID(), Sim: o.sim, SimAsTwilio: o.simAsTwilio, Settings: o.settings, Env: o.env,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if !o.parisNow.IsZero() {
		now := time.Now()
		ho.ComplianceClock = activities.ComplianceClock{Shift: o.parisNow.Sub(now), Origin: now, Speed: o.clockSpeed}
	}
	h, err := harness.Start(context.Background(), tc, ho)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return &stack{Stack: h, t: t, tc: tc, db: h.DB, hubspot: h.HubSpot, sim: h.Sim, apiURL: h.APIURL, clock: ho.ComplianceClock}
}

// execute plays HubSpot running the "Send SMS" action on a contact.
func (s *stack) execute(callbackID string, contactID int64, inputs map[string]string) hubspottest.ActionResponse {
	s.t.Helper()
	resp, err := s.Execute(context.Background(), callbackID, "CONTACT", contactID, inputs)
	if err != nil {
		s.t.Fatalf("%v (%+v)", err, resp)
	}
	return resp
}

// executeAgain is execute for a callbackId HubSpot already executed: any 200 answer is returned.
func (s *stack) executeAgain(callbackID string, contactID int64, inputs map[string]string) hubspottest.ActionResponse {
	s.t.Helper()
	resp, err := s.ExecuteAgain(context.Background(), callbackID, "CONTACT", contactID, inputs)
	if err != nil {
		s.t.Fatalf("%v (%+v)", err, resp)
	}
	return resp
}

// state asks the message's workflow where it is.
func (s *stack) state(messageID string) workflows.MessageState {
	s.t.Helper()
	v, err := s.tc.QueryWorkflow(context.Background(), workflows.SMSWorkflowID(messageID), "", workflows.QueryState)
	if err != nil {
		s.t.Fatal(err)
	}
	var st workflows.MessageState
	if err := v.Get(&st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// completion waits for HubSpot to see the action completed.
func (s *stack) completion(callbackID string) *hubspottest.Completion {
	s.t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c := s.hubspot.Completed(callbackID); c != nil {
			return c
		}
	}
	s.t.Fatalf("callback %s never completed", callbackID)
	return nil
}

// result waits for the message workflow to end and returns its result.
func (s *stack) result(messageID string) workflows.SMSResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.SMSResult
	if err := s.tc.GetWorkflow(ctx, workflows.SMSWorkflowID(messageID), "").Get(ctx, &res); err != nil {
		s.t.Fatalf("workflow of %s: %v", messageID, err)
	}
	return res
}

// history returns the run's events; with SMSFLOW_RECORD_HISTORIES=1 it also writes them to
// workflows/testdata/histories/<name>.json for the replay test.
func (s *stack) history(messageID, name string) *history.History {
	s.t.Helper()
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The whole run, however it ended (a cancelled or failed run is a path too).
	if err := s.tc.GetWorkflow(wctx, workflows.SMSWorkflowID(messageID), "").Get(wctx, nil); err != nil && wctx.Err() != nil {
		s.t.Fatalf("workflow of %s did not close: %v", messageID, err)
	}
	return s.historySoFar(messageID, name)
}

// historySoFar is history without waiting for the run to close: the events of a run that is
// still open (a message held for hours), which the replayer replays up to their last event.
func (s *stack) historySoFar(messageID, name string) *history.History {
	s.t.Helper()
	ctx := context.Background()
	it := s.tc.GetWorkflowHistory(ctx, workflows.SMSWorkflowID(messageID), "", false, 0)
	h := &history.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	if os.Getenv("SMSFLOW_RECORD_HISTORIES") == "1" {
		raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
		if err != nil {
			s.t.Fatal(err)
		}
		path := filepath.Join("..", "workflows", "testdata", "histories", name+".json")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	return h
}

// synced waits until every HubSpot write queued so far reached the fake HubSpot: the outbox
// sender writes them shortly after the lifecycle step that queued them.
func (s *stack) synced() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.HubSpotSynced(ctx); err != nil {
		var rows, claimed int
		var due, errs, lease string
		_ = s.db.Pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE claim_id IS NOT NULL),
			coalesce(min(next_attempt_at - now())::text, ''), coalesce(string_agg(DISTINCT last_error, ' | '), '')
			FROM hubspot_outbox WHERE done_at IS NULL AND dead_at IS NULL`).Scan(&rows, &claimed, &due, &errs)
		if err := s.db.Pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(portal_id || ' ' || coalesce(lease_owner, '') || ' until ' ||
			lease_until::text || ' paused ' || paused_until::text || ' ' ||
			coalesce(pause_reason, ''), '; '), '')
			FROM hubspot_outbox_portals`).Scan(&lease); err != nil {
			lease = "(unreadable: " + err.Error() + ")"
		}
		s.t.Fatalf("%v: %d rows pending (%d claimed), first due in %s, errors %q; portals: %s", err, rows, claimed, due, errs, lease)
	}
}

// record returns a HubSpot record's properties once the queued writes reached it.
func (s *stack) record(objectType, id string) map[string]string {
	s.t.Helper()
	s.synced()
	return s.hubspot.Object(portal, objectType, id)
}

// templateStatuses are the statuses of the harness's timeline templates.
var templateStatuses = map[string]string{"1001": "SENT", "1002": "NOT_SENT", "1003": "DELIVERED", "1004": "NOT_DELIVERED",
	"1005": "CLICKED", "1006": "RESPONSE", "1007": "UNSUBSCRIBED"}

// timeline lists the statuses of the timeline events HubSpot received, in arrival order (the
// events of a batch in its order), once the queued writes reached it.
func (s *stack) timeline() []string {
	s.t.Helper()
	s.synced()
	var out []string
	for _, c := range s.hubspot.CallsTo("POST", "/crm/v3/timeline/events") {
		if c.Status >= 300 {
			continue
		}
		type event struct {
			TemplateID string `json:"eventTemplateId"`
		}
		var body struct {
			event
			Inputs []event `json:"inputs"`
		}
		if err := json.Unmarshal(c.Body, &body); err != nil {
			s.t.Fatalf("timeline call body: %v", err)
		}
		events := body.Inputs
		if strings.HasSuffix(c.Path, "/events") {
			events = []event{body.event}
		}
		for _, ev := range events {
			if st, ok := templateStatuses[ev.TemplateID]; ok {
				out = append(out, st)
			}
		}
	}
	return out
}

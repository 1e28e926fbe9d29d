package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"smsflow/carrier"
	"smsflow/carrier/sim"
	"smsflow/internal/devstack"
	"smsflow/internal/harness"
	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/payloadcodec/codectest"
	"smsflow/signalbox"
	"smsflow/workflows"
)

// Fault tests of the inbound path: delivery reports and clicks are stored first and reach their
// workflow once, whatever Temporal or PostgreSQL do meanwhile, and a recipient cannot grow a
// message's history. Each prints its figures.

const faultMessages = 30

// refusals counts the webhooks the API answered 503 (it logs each "carrier webhook: …" error).
type refusals struct {
	slog.Handler
	n *atomic.Int64
}

func (r refusals) Handle(ctx context.Context, rec slog.Record) error {
	if strings.HasPrefix(rec.Message, "carrier webhook: ") && rec.Level >= slog.LevelError {
		r.n.Add(1)
	}
	return r.Handler.Handle(ctx, rec)
}

func (r refusals) WithAttrs(as []slog.Attr) slog.Handler {
	return refusals{r.Handler.WithAttrs(as), r.n}
}
func (r refusals) WithGroup(g string) slog.Handler { return refusals{r.Handler.WithGroup(g), r.n} }

// faultStack runs a harness on the given Temporal and database; refused counts the webhooks
// answered 503.
func faultStack(t *testing.T, tc client.Client, temporalAddr, databaseURL string, o stackOptions, signals signalbox.Options, refused *atomic.Int64) *stack {
	t.Helper()
	h, err := harness.Start(context.Background(), tc, harness.Options{DatabaseURL: databaseURL, TemporalAddress: temporalAddr,
		TaskQueue: "e2e-fault-" + testenv.RandomID(), Sim: o.sim, Settings: o.settings, Env: o.env, Signals: signals,
		Log: slog.New(refusals{slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}), refused})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return &stack{Stack: h, t: t, tc: tc, db: h.DB, hubspot: h.HubSpot, sim: h.Sim, apiURL: h.APIURL}
}

// sendBurst sends n messages waiting for delivery to n contacts, one every gap, each retried
// like HubSpot retries an action that failed; it returns the message ids.
func sendBurst(t *testing.T, s *stack, prefix string, n int, gap time.Duration) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		contactID := int64(9100 + i)
		contact(s, strconv.FormatInt(contactID, 10), fmt.Sprintf("+336123456%02d", i))
		cb := fmt.Sprintf("%s-%02d", prefix, i)
		var err error
		for try := 0; try < 20; try++ {
			if _, err = s.Execute(context.Background(), cb, "CONTACT", contactID, inputs("wait_for", "delivery")); err == nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("send %s: %v", cb, err)
		}
		ids[i] = workflows.MessageIDForCallback(portal, cb)
		time.Sleep(gap)
	}
	return ids
}

// timelineCount counts the timeline events HubSpot took with the status's template.
func (s *stack) timelineCount(template string) int {
	s.synced() // the HubSpot outbox drained: every queued write reached the fake
	n := 0
	for _, c := range s.hubspot.CallsTo("POST", "/crm/v3/timeline/events") {
		if c.Status < 300 {
			n += strings.Count(string(c.Body), `"eventTemplateId":"`+template+`"`)
		}
	}
	return n
}

// signalsIn counts the signals named name in the run's history, and its events.
func (s *stack) signalsIn(messageID, name string) (signals, events int) {
	s.t.Helper()
	it := s.tc.GetWorkflowHistory(context.Background(), workflows.SMSWorkflowID(messageID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		events++
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == name {
			signals++
		}
	}
	return signals, events
}

// expectDeliveredOnce checks every message ended SMS_DELIVERED having applied one report: one
// carrier-report signal in its history, one DELIVERED status in the message log, one DELIVERED
// timeline event in HubSpot per message.
func expectDeliveredOnce(t *testing.T, s *stack, ids []string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		if res := s.result(id); res.Status != outcome.SMSDelivered {
			t.Errorf("message %s ended %s %s", id, res.Status, res.ErrorCode)
			continue
		}
		if n, _ := s.signalsIn(id, workflows.SignalCarrierReport); n != 1 {
			t.Errorf("message %s: %d carrier-report signals in its history, want 1", id, n)
		}
		var delivered int
		if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM message_events WHERE message_id = $1 AND source = 'workflow'
			AND status = $2`, id, string(outcome.SMSDelivered)).Scan(&delivered); err != nil || delivered != 1 {
			t.Errorf("message %s: %d DELIVERED statuses (%v), want 1", id, delivered, err)
		}
		if n := s.sim.Sends(id); n != 1 {
			t.Errorf("message %s reached the carrier %d times", id, n)
		}
	}
	if n := s.timelineCount("1003"); n != len(ids) {
		t.Errorf("HubSpot got %d DELIVERED timeline events, want %d", n, len(ids))
	}
	if n, err := s.db.OwedSignals(ctx); err != nil || n != 0 {
		t.Errorf("%d signals still owed (%v)", n, err)
	}
}

// (2) Temporal stopped for 10 s while the 30 delivery reports of 30 sent messages arrive: every
// webhook answers 200 (stored), and once Temporal is back the sweeper delivers each report once.
func TestFaultTemporalDownDuringReports(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logFile, err := os.Create(filepath.Join(dir, "temporal.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	topts := devstack.TemporalOptions{Headless: true, DBFile: filepath.Join(dir, "temporal.db"),
		SearchAttributes: workflows.SearchAttributes(), Log: logFile}
	temporal, err := devstack.StartTemporal(ctx, topts)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(temporal.Address)
	topts.Port, _ = strconv.Atoi(port)
	defer func() { _ = temporal.Stop() }()
	tc, err := client.Dial(codectest.ClientOptions(client.Options{HostPort: temporal.Address, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))}))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	// The simulator takes the sends and never reports: the test posts the reports itself, while
	// Temporal is down. The sweeper's backoff is capped at 5 s to bound the test.
	s := faultStack(t, tc, temporal.Address, testenv.Database(t), stackOptions{sim: sim.Options{Delay: time.Hour},
		settings: map[string]any{"listen_after": "2s", "delivery_timeout": "5m"}}, signalbox.Options{MaxBackoff: 5 * time.Second}, new(atomic.Int64))

	ids := sendBurst(t, s, "cb-tdown", faultMessages, 0)
	sids := map[string]string{}
	for deadline := time.Now().Add(2 * time.Minute); len(sids) < faultMessages || s.timelineCount("1001") < faultMessages; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d messages sent", len(sids), faultMessages)
		}
		rows, _ := s.db.Pool.Query(ctx, `SELECT message_id::text, carrier_message_id FROM dispatch_attempts WHERE state = 'accepted'`)
		for rows.Next() {
			var id, sid string
			if err := rows.Scan(&id, &sid); err == nil {
				sids[id] = sid
			}
		}
		rows.Close()
	}
	time.Sleep(time.Second) // the SENT publications' completions reach Temporal

	if err := temporal.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	target := s.apiURL + "/carriers/sim/status"
	var wg sync.WaitGroup
	var ok, slowest atomic.Int64
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := url.Values{"MessageSid": {sids[id]}, "SmsSid": {sids[id]}, "MessageStatus": {"delivered"}, "SmsStatus": {"delivered"},
				"AccountSid": {"ACsimulator"}, "ApiVersion": {"2010-04-01"}}.Encode()
			req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(carrier.SignatureHeader, carrier.SignWebhook(harness.WebhookSecret, target, []byte(body), time.Now()))
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if d := time.Since(start).Milliseconds(); d > slowest.Load() {
				slowest.Store(d)
			}
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	posted := time.Since(down)
	owed, err := s.db.OwedSignals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok.Load() != faultMessages || owed != faultMessages {
		t.Fatalf("with Temporal down: %d of %d reports answered 200, %d owed signals; want all stored and owed", ok.Load(), faultMessages, owed)
	}
	time.Sleep(time.Until(down.Add(10 * time.Second)))
	if temporal, err = devstack.StartTemporal(ctx, topts); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	expectDeliveredOnce(t, s, ids)
	t.Logf("Temporal down %.1fs; %d reports posted meanwhile in %v (slowest answer %d ms), %d answered 200 and stored; "+
		"all %d workflows SMS_DELIVERED %.1fs after Temporal was back, each with 1 report signal",
		up.Sub(down).Seconds(), faultMessages, posted.Round(time.Millisecond), slowest.Load(), ok.Load(), faultMessages, time.Since(up).Seconds())
	s.history(ids[0], "outbox_delivered_report") // the report came by the sweeper, not the webhook
}

// (3) PostgreSQL restarted in the middle of a burst of 30 sends and their delivery reports: every
// message ends SMS_DELIVERED with exactly one DELIVERED, none lost, none duplicated.
func TestFaultPostgresRestartDuringBurst(t *testing.T) {
	ctx := context.Background()
	pg := testenv.OwnPostgres(t)
	tc := testenv.Temporal(t)
	// 1 s between a message's callbacks: the simulator retries a refused callback after 1 s and
	// 2 s, as a carrier may retry a webhook that failed once; the restart must fit in that.
	var refused atomic.Int64
	s := faultStack(t, tc, os.Getenv("TEMPORAL_ADDRESS"), pg.URL, stackOptions{sim: sim.Options{Delay: time.Second},
		settings: map[string]any{"listen_after": "2s", "delivery_timeout": "3m"}}, signalbox.Options{MaxBackoff: 5 * time.Second}, &refused)

	idsc := make(chan []string, 1)
	start := time.Now()
	go func() { idsc <- sendBurst(t, s, "cb-pgrestart", faultMessages, 150*time.Millisecond) }()
	// Restart once the first messages are delivered, while the rest are being sent.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var reports int
		_ = s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM message_events WHERE kind = 'delivery' AND status = 'delivered'`).Scan(&reports)
		if reports >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery report stored within a minute")
		}
	}
	var sentBefore, reportsBefore int
	_ = s.db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM dispatch_attempts WHERE state = 'accepted'),
		(SELECT count(*) FROM message_events WHERE kind = 'delivery')`).Scan(&sentBefore, &reportsBefore)
	stopAt := time.Now()
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	downFor := time.Since(stopAt)
	ids := <-idsc
	expectDeliveredOnce(t, s, ids)
	st := s.sim.Stats()
	t.Logf("PostgreSQL restarted %.1fs into the burst (%d of %d sends accepted and %d of %d reports stored before), down %v; "+
		"%d webhooks answered 503 meanwhile and were retried; all %d SMS_DELIVERED after %.1fs, each with 1 report signal and 1 DELIVERED; "+
		"carrier: %d accepted, %d duplicate sends, %d callbacks taken, %d given up",
		stopAt.Sub(start).Seconds(), sentBefore, faultMessages, reportsBefore, 3*faultMessages, downFor.Round(time.Millisecond),
		refused.Load(), faultMessages, time.Since(start).Seconds(), st.Accepted, st.Duplicates, st.Callbacks, st.CallbackFailures)
	if st.CallbackFailures != 0 || st.Callbacks != 3*faultMessages {
		t.Errorf("the carrier gave up %d callbacks and had %d taken, want 0 and %d", st.CallbackFailures, st.Callbacks, 3*faultMessages)
	}
}

// (6) 1,000 clicks on one link of one message: PostgreSQL counts them all, the workflow gets one
// click signal and its history stays under 100 events, HubSpot sees one click.
func TestFaultThousandClicks(t *testing.T) {
	const clicks = 1000
	ctx := context.Background()
	s := newStack(t, stackOptions{settings: map[string]any{"listen_after": "10m", "delivery_timeout": "1m"},
		env: map[string]string{"LINK_LIMIT_PER_IP": "10000,10000", "LINK_LIMIT_PER_CODE": "10000,10000"}})
	contact(s, "9200", "+33612345699")
	id := send(t, s, "cb-clicks", 9200, inputs("message", "Sale: https://shop.example.com/sale", "shorten_urls", "true",
		"wait_for", "delivery"))
	t.Cleanup(func() { _ = s.tc.TerminateWorkflow(context.Background(), workflows.SMSWorkflowID(id), "", "test over") })
	expectCompletion(t, s, "cb-clicks", outcome.SMSDelivered, "")
	m, err := s.db.GetMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(s.apiURL) + `/l/[A-Za-z0-9_-]+`).FindString(m.Text)
	if link == "" {
		t.Fatalf("no short link in %q", m.Text)
	}
	// Never follow the redirect: the target is not ours.
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var redirected atomic.Int64
	next := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				req, _ := http.NewRequest(http.MethodGet, link, nil)
				req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148")
				if resp, err := hc.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusFound {
						redirected.Add(1)
					}
				}
			}
		}()
	}
	for range clicks {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	for deadline := time.Now().Add(30 * time.Second); s.timelineCount("1005") == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
	}
	time.Sleep(2 * time.Second) // anything else signalled would land by now

	var counted, events int
	if err := s.db.Pool.QueryRow(ctx, `SELECT clicks FROM short_links WHERE message_id = $1 AND kind = 'link'`, id).Scan(&counted); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM message_events WHERE message_id = $1 AND kind = 'click'`, id).Scan(&events); err != nil {
		t.Fatal(err)
	}
	signals, history := s.signalsIn(id, workflows.SignalClick)
	hubspotClicks := s.timelineCount("1005")
	t.Logf("%d clicks in %v (%.0f/s): %d redirected, PostgreSQL counted %d and stored %d events; workflow: %d click signal, %d history events; HubSpot: %d CLICKED",
		clicks, took.Round(time.Millisecond), clicks/took.Seconds(), redirected.Load(), counted, events, signals, history, hubspotClicks)
	if redirected.Load() != clicks || counted != clicks || events != clicks {
		t.Errorf("redirected %d, counted %d, stored %d; want %d each", redirected.Load(), counted, events, clicks)
	}
	if signals != 1 || history >= 100 || hubspotClicks != 1 {
		t.Errorf("workflow got %d click signals in %d history events, HubSpot %d CLICKED; want 1, under 100, 1", signals, history, hubspotClicks)
	}
	if st := s.state(id); st.Clicks != 1 || st.Status != outcome.SMSClicked {
		t.Errorf("workflow state %+v, want CLICKED once", st)
	}
}

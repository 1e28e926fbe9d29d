package e2e

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"smsflow/carrier/sim"
	"smsflow/config"
	"smsflow/internal/harness"
	"smsflow/internal/testenv"
	"smsflow/outcome"
	"smsflow/workflows"
)

// The test's recipient in each form a log line could carry it, and the texts that must stay out of
// the logs: the template, the personalised text and the recipient's reply.
const (
	metricsPhoneNational = "06 12 34 56 97"
	metricsTemplate      = "Bonjour {{contact.firstname}}, parcel 4417 leaves the depot today."
	metricsText          = "Bonjour Zoé, parcel 4417 leaves the depot today."
	metricsReply         = "Merci, code porte 8812"
)

var metricsPhoneForms = []string{"+33612345697", "33612345697", "0612345697", metricsPhoneNational, "612345697", "06.12.34.56.97"}

// A message held for its send_at, sent, delivered and answered through the whole stack: /metrics
// of the API and of the worker carry the business series and the Temporal SDK's, and the logs of
// the run (the services' and the SDK's, at debug level) carry neither the number nor any text.
func TestMetricsAndLogsEndToEnd(t *testing.T) {
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// The client is built as cmd/api and cmd/worker build theirs: config's options carry the
	// SDK's metrics handler.
	addr := testenv.Require(t, "TEMPORAL_ADDRESS")
	cfg, err := config.FromLookup(func(k string) (string, bool) {
		switch k {
		case "TEMPORAL_ADDRESS":
			return addr, true
		case "PAYLOAD_KEYS":
			return harness.PayloadKeys, true // the key the harness's services use
		}
		return os.LookupEnv(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	topts, err := cfg.TemporalClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	topts.Logger = sdklog.NewStructuredLogger(logger)
	tc, err := client.Dial(topts)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()

	h, err := harness.Start(context.Background(), tc, harness.Options{DatabaseURL: testenv.Database(t), TemporalAddress: addr,
		TaskQueue: "e2e-" + testenv.RandomID(), Log: logger,
		Sim: sim.Options{Reply: 1, ReplyText: metricsReply}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	s := &stack{Stack: h, t: t, tc: tc, db: h.DB, hubspot: h.HubSpot, sim: h.Sim, apiURL: h.APIURL}
	s.hubspot.SetObject(portal, "contacts", "931", map[string]string{"mobilephone": metricsPhoneNational, "firstname": "Zoé"})

	sendAt := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339)
	s.execute("cb-metrics", 931, map[string]string{"country": "FR", "sender": "ACME", "message_type": "transactional",
		"message": metricsTemplate, "wait_for": "delivery", "send_at": sendAt})
	c := s.completion("cb-metrics")
	if c.Outputs["sms_status"] != string(outcome.SMSDelivered) {
		t.Fatalf("completed with %+v", c.Outputs)
	}
	id := c.Outputs["message_id"]
	s.result(id) // the run ends after listening for the reply
	s.synced()
	if err := h.DB.Pool.QueryRow(context.Background(), `SELECT 1 FROM message_events WHERE message_id = $1 AND kind = 'reply'`, id).Scan(new(int)); err != nil {
		t.Fatalf("the simulator's reply was not stored: %v", err)
	}

	// The outbox-lag gauge is sampled every 100 ms: wait until it saw every signal delivered.
	var api, wrk map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		api, wrk = scrape(t, h.APIURL+"/metrics"), scrape(t, h.WorkerMetricsURL)
		if v, ok := value(wrk, "smsflow_inbound_signals_owed", nil); ok && v == 0 || time.Now().After(deadline) {
			break
		}
	}

	for _, c := range []struct {
		scrape map[string]*dto.MetricFamily
		name   string
		labels map[string]string
	}{
		// The API: accept latency of the action endpoint, the webhook events it stored and signalled.
		{api, "smsflow_http_request_duration_seconds", map[string]string{"route": "/hubspot/actions/sms", "method": "POST", "code": "200"}},
		{api, "smsflow_inbound_events_stored_total", map[string]string{"kind": "delivery"}},
		{api, "smsflow_inbound_events_stored_total", map[string]string{"kind": "reply"}},
		{api, "smsflow_inbound_signals_total", map[string]string{"signal": workflows.SignalCarrierReport, "result": "signalled"}},
		{api, "temporal_request_total", map[string]string{"operation": "StartWorkflowExecution"}},
		// The worker: statuses, the hold, HubSpot calls, the breaker, the SDK's task series.
		{wrk, "smsflow_message_status_changes_total", map[string]string{"status": string(outcome.SMSDelivered), "country": "FR", "carrier": "sim", "channel": "sms"}},
		{wrk, "smsflow_message_status_changes_total", map[string]string{"status": string(outcome.SMSSent), "country": "FR", "carrier": "sim"}},
		{wrk, "smsflow_message_holds_total", map[string]string{"reason": "scheduled", "country": "FR"}},
		{wrk, "smsflow_message_hold_seconds", map[string]string{"reason": "scheduled"}},
		{wrk, "smsflow_hubspot_requests_total", map[string]string{"method": "POST", "code": "2xx"}},
		{wrk, "temporal_workflow_task_execution_latency_seconds", map[string]string{"workflow_type": "SendSMS"}},
		{wrk, "temporal_activity_execution_latency_seconds", map[string]string{"activity_type": "Dispatch"}},
		{wrk, "temporal_workflow_completed_total", map[string]string{"workflow_type": "SendSMS"}},
	} {
		if v, ok := value(c.scrape, c.name, c.labels); !ok || v < 1 {
			t.Errorf("%s%v = %v (present %v), want at least 1", c.name, c.labels, v, ok)
		}
	}
	if v, ok := value(wrk, "smsflow_carrier_breaker_state", map[string]string{"carrier": "sim"}); !ok || v != 0 {
		t.Errorf("breaker state of sim = %v (present %v), want 0 (closed)", v, ok)
	}
	if v, ok := value(wrk, "smsflow_inbound_signals_owed", nil); !ok || v != 0 {
		t.Errorf("owed signals = %v (present %v), want 0 once every signal is delivered", v, ok)
	}

	// No label of any series carries the number or a text.
	for _, f := range api {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, secret := range append([]string{"4417", "8812", "Zoé"}, metricsPhoneForms...) {
					if strings.Contains(l.GetValue(), secret) {
						t.Errorf("%s has label %s=%q", f.GetName(), l.GetName(), l.GetValue())
					}
				}
			}
		}
	}

	// The logs of the run: present, and free of the number in any form and of every text.
	h.Close()
	out := logs.String()
	if !strings.Contains(out, id) {
		t.Fatalf("the captured logs never name the message %s: the scan below would prove nothing (%d bytes)", id, len(out))
	}
	for _, secret := range append([]string{metricsTemplate, metricsText, metricsReply, "parcel 4417", "code porte", "Zoé"}, metricsPhoneForms...) {
		if strings.Contains(out, secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
}

// lockedBuffer is a log sink the handler's writers share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func scrapeText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(body)
}

// scrape reads a /metrics answer into its families.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(scrapeText(t, url)))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return families
}

// value sums the series of name whose labels include labels: a counter's or a gauge's value, a
// histogram's observation count.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

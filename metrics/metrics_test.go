package metrics

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The SDK's handler: tags become labels, one name may carry several label sets, counters end in
// _total, timers are histograms in seconds, and the registry gathers it all without conflict.
func TestTemporalHandler(t *testing.T) {
	h := Temporal.WithTags(map[string]string{"namespace": "ns-test", "task_queue": "q"})
	h.Counter("temporal_test_request").Inc(2)
	h.WithTags(map[string]string{"operation": "Poll"}).Counter("temporal_test_request").Inc(3)
	h.Counter("temporal_test_request").Inc(1) // the same series again
	h.Gauge("temporal_test_slots").Update(7)
	h.WithTags(map[string]string{"activity_type": "Dispatch"}).Timer("temporal_test_latency").Record(1500 * time.Millisecond)

	want := `
# HELP temporal_test_request_total Temporal SDK counter.
# TYPE temporal_test_request_total counter
temporal_test_request_total{namespace="ns-test",task_queue="q"} 3
temporal_test_request_total{namespace="ns-test",operation="Poll",task_queue="q"} 3
# HELP temporal_test_slots Temporal SDK gauge.
# TYPE temporal_test_slots gauge
temporal_test_slots{namespace="ns-test",task_queue="q"} 7
`
	if err := testutil.GatherAndCompare(Registry, strings.NewReader(want), "temporal_test_request_total", "temporal_test_slots"); err != nil {
		t.Fatal(err)
	}
	families, err := Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range families {
		if f.GetName() == "temporal_test_latency_seconds" {
			m := f.GetMetric()[0]
			found = m.GetHistogram().GetSampleCount() == 1 && m.GetHistogram().GetSampleSum() == 1.5
		}
	}
	if !found {
		t.Error("timer temporal_test_latency not gathered as temporal_test_latency_seconds with one 1.5 s sample")
	}
}

func TestLabelsStayBounded(t *testing.T) {
	for in, want := range map[string]string{"FR": "FR", "fr": "FR", "": "unknown", "+33612345600": "unknown", "F1": "unknown", "FRA": "unknown"} {
		if got := Country(in); got != want {
			t.Errorf("Country(%q) = %q, want %q", in, got, want)
		}
	}
	if got := OneOf("TEN_SECONDLY_ROLLING", "DAILY", "TEN_SECONDLY_ROLLING"); got != "TEN_SECONDLY_ROLLING" {
		t.Errorf("OneOf known = %q", got)
	}
	if got := OneOf("SOMETHING_NEW", "DAILY"); got != "other" {
		t.Errorf("OneOf unknown = %q, want other", got)
	}
}

// With a token, /metrics answers 401 without it and the series with it.
func TestHandlerToken(t *testing.T) {
	srv := httptest.NewServer(NewServer("s3cret").Handler)
	defer srv.Close()
	for _, c := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer s3cret", 200}} {
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Authorization %q: %d, want %d", c.auth, resp.StatusCode, c.want)
		}
	}
}

// Every smsflow_ series the dashboard queries is one this package registers.
func TestDashboardQueriesRegisteredSeries(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/dashboards/smsflow.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	descs := make(chan *prometheus.Desc, 100)
	for _, c := range []prometheus.Collector{MessageStatuses, Holds, HoldSeconds, BreakerState, HubSpotRequests,
		HubSpotRateLimited, InboundStored, InboundSignalled, SignalsOwed, HTTPDuration} {
		c.Describe(descs)
	}
	close(descs)
	name := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range descs {
		n := name.FindStringSubmatch(d.String())[1]
		registered[n] = true
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			registered[n+suffix] = true
		}
	}
	used := map[string]bool{}
	series := regexp.MustCompile(`smsflow_[a-z_]+`)
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			for _, s := range series.FindAllString(target.Expr, -1) {
				used[strings.TrimSuffix(s, "_")] = true
				if !registered[s] {
					t.Errorf("panel %q queries %s, which no collector registers", p.Title, s)
				}
			}
		}
	}
	for _, c := range []string{"smsflow_message_status_changes_total", "smsflow_message_holds_total", "smsflow_carrier_breaker_state",
		"smsflow_hubspot_rate_limited_total", "smsflow_inbound_signals_owed", "smsflow_http_request_duration_seconds_bucket"} {
		if !used[c] {
			t.Errorf("the dashboard shows no %s", c)
		}
	}
}

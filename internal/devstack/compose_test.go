package devstack

import (
	"os"
	"strings"
	"testing"

	"smsflow/workflows"
)

// docker-compose.yml registers the search attributes by hand; it must list exactly what the
// workflows upsert, as `make run` does from workflows.SearchAttributes.
func TestComposeRegistersEverySearchAttribute(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	compose := string(raw)
	want := workflows.SearchAttributes()
	for name, typ := range want {
		if !strings.Contains(compose, "--name "+name+" --type "+typ+" ") {
			t.Errorf("docker-compose.yml does not create %s as %s", name, typ)
		}
	}
	if got := strings.Count(compose, "search-attribute create"); got != len(want) {
		t.Errorf("docker-compose.yml creates %d search attributes, the workflows use %d", got, len(want))
	}
}

// docker compose runs the codec server and points the Web UI at it, as `make run` does.
func TestComposeDecodesPayloadsInTheWebUI(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	compose := string(raw)
	for _, want := range []string{`command: ["codec-server"]`, "TEMPORAL_CODEC_ENDPOINT: http://localhost:8089",
		`TEMPORAL_CODEC_INCLUDE_CREDENTIALS: "true"`, `"8089:8089"`, "PAYLOAD_KEYS: ", "CODEC_SERVER_TOKEN: "} {
		if !strings.Contains(compose, want) {
			t.Errorf("docker-compose.yml lacks %s", want)
		}
	}
}

// The observability profile runs Prometheus and Grafana with the dashboard and the scrape
// configuration the repository holds, and the worker serves its /metrics on the compose network.
func TestComposeObservabilityProfile(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	compose := string(raw)
	for _, want := range []string{"prometheus:", "grafana:", `profiles: ["observability"]`, `METRICS_ADDR: ":9464"`,
		"./deploy/prometheus/prometheus.yml:", "./deploy/grafana/provisioning:", "./deploy/grafana/dashboards:"} {
		if !strings.Contains(compose, want) {
			t.Errorf("docker-compose.yml lacks %s", want)
		}
	}
	for _, file := range []string{"../../deploy/grafana/dashboards/smsflow.json", "../../deploy/grafana/provisioning/dashboards/smsflow.yml",
		"../../deploy/grafana/provisioning/datasources/prometheus.yml"} {
		if _, err := os.Stat(file); err != nil {
			t.Error(err)
		}
	}
	scrape, err := os.ReadFile("../../deploy/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{`"api:8080"`, `"worker:9464"`} {
		if !strings.Contains(string(scrape), target) {
			t.Errorf("prometheus.yml does not scrape %s", target)
		}
	}
}

package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"smsflow/api"
	"smsflow/internal/testenv"
	"smsflow/store"
)

type readyBody struct {
	Status string            `json:"status"`
	Down   []string          `json:"down"`
	Checks map[string]string `json:"checks"`
}

func getReady(t *testing.T, h http.Handler) (int, readyBody) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var b readyBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("readyz body %q: %v", rec.Body.String(), err)
	}
	return rec.Code, b
}

// readyChecks wires the same checks as cmd/api.
func readyChecks(db *store.Store, tc client.Client) map[string]api.Check {
	return map[string]api.Check{
		"postgres":   db.Ping,
		"migrations": db.CheckMigrated,
		"temporal": func(ctx context.Context) error {
			_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
	}
}

// /readyz says 503 naming PostgreSQL while it is stopped, and 200 once it is back; /healthz
// answers 200 throughout.
func TestReadyzFollowsPostgres(t *testing.T) {
	tc := testenv.Temporal(t)
	pg := testenv.OwnPostgres(t)
	ctx := context.Background()
	db, err := store.Open(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	router := api.NewRouter(api.Deps{Log: slog.New(slog.DiscardHandler), Ready: readyChecks(db, tc)})

	code, body := getReady(t, router)
	if code != 503 || len(body.Down) != 1 || body.Down[0] != "migrations" {
		t.Fatalf("before migrating: %d %+v, want 503 with migrations down", code, body)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if code, body := getReady(t, router); code != 200 || body.Status != "ready" {
		t.Fatalf("all up: %d %+v, want 200", code, body)
	}

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	code, body = getReady(t, router)
	if code != 503 || !contains(body.Down, "postgres") || contains(body.Down, "temporal") {
		t.Fatalf("PostgreSQL stopped: %d %+v, want 503 naming postgres only", code, body)
	}
	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("/healthz with PostgreSQL down = %d", rec.Code)
	}

	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var last readyBody
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code, last = getReady(t, router); code == 200 {
			return
		}
	}
	t.Fatalf("PostgreSQL back, yet /readyz = %d %+v", code, last)
}

// The API must start and serve /healthz with nothing behind it.
func TestHealthzWithEverythingDown(t *testing.T) {
	db, err := store.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	srv := httptest.NewServer(api.NewRouter(api.Deps{Log: slog.New(slog.DiscardHandler), Ready: readyChecks(db, tc)}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz = %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var b readyBody
	_ = json.Unmarshal(raw, &b)
	if resp.StatusCode != 503 || !contains(b.Down, "postgres") || !contains(b.Down, "temporal") {
		t.Fatalf("/readyz = %d %s, want 503 naming postgres and temporal", resp.StatusCode, raw)
	}
	// The pure endpoints answer too: a preview with its compliance fields.
	resp, err = http.Post(srv.URL+"/v1/preview", "application/json", strings.NewReader(
		`{"message": "Promo -20%", "phone": "0612345678", "country": "FR", "message_type": "marketing", "at": "2026-11-29T13:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var p struct {
		Held    bool   `json:"held"`
		SendAt  string `json:"send_at"`
		Text    string `json:"text"`
		PhoneE1 string `json:"phone_e164"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || resp.StatusCode != 200 || !p.Held || p.SendAt != "2026-11-30T07:00:00Z" ||
		p.PhoneE1 != "+33612345678" || !strings.HasSuffix(p.Text, "STOP au 36180") {
		t.Fatalf("/v1/preview with nothing behind the API = %d %s", resp.StatusCode, raw)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

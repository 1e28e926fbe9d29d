package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"smsflow/payloadcodec/codectest"
)

const (
	token  = "codec-test-token-0123"
	origin = "http://localhost:8233"
)

func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(newServer(codectest.Codec(), token, []string{origin}, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	return srv
}

// encrypted is a /decode request body: one payload encrypted with the tests' key, as the Web UI
// sends it.
func encrypted(t *testing.T) string {
	t.Helper()
	p, err := codectest.DataConverter().ToPayloads("+33612345602")
	if err != nil {
		t.Fatal(err)
	}
	b, err := protojson.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func post(t *testing.T, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The Web UI's preflight is answered, without credentials, with the CORS headers its POST needs;
// another origin gets none.
func TestPreflight(t *testing.T) {
	srv := newTestServer(t)
	for _, o := range []string{origin, "https://evil.example"} {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		req.Header.Set("Origin", o)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace,authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		allowed := o == origin
		if resp.StatusCode/100 != 2 {
			t.Fatalf("preflight from %s: %d", o, resp.StatusCode)
		}
		if got := h.Get("Access-Control-Allow-Origin"); (got == o) != allowed || (!allowed && got != "") {
			t.Errorf("preflight from %s: Allow-Origin %q", o, got)
		}
		if allowed {
			for name, want := range map[string]string{"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "X-Namespace",
				"Access-Control-Allow-Credentials": "true"} {
				if !strings.Contains(h.Get(name), want) {
					t.Errorf("%s = %q, want %s", name, h.Get(name), want)
				}
			}
			if !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
				t.Errorf("Allow-Headers %q lacks Authorization", h.Get("Access-Control-Allow-Headers"))
			}
		}
	}
}

// /decode with the token decodes; without it, or with another, 401 and nothing decoded.
func TestDecodeNeedsTheToken(t *testing.T) {
	srv := newTestServer(t)
	body := encrypted(t)
	resp, out := post(t, srv.URL+"/decode", body, map[string]string{"Authorization": "Bearer " + token, "Origin": origin, "X-Namespace": "default"})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("with the token: %d %s", resp.StatusCode, out)
	}
	var decoded commonpb.Payloads
	if err := protojson.Unmarshal([]byte(out), &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded.Payloads) != 1 || string(decoded.Payloads[0].Data) != `"+33612345602"` ||
		string(decoded.Payloads[0].Metadata["encoding"]) != "json/plain" {
		t.Fatalf("decoded = %v", out)
	}
	for name, header := range map[string]map[string]string{
		"no token":    {"Origin": origin},
		"wrong token": {"Authorization": "Bearer " + token + "x"},
		"basic":       {"Authorization": "Basic " + token},
		"bad cookie":  {"Cookie": cookieName + "=" + token},
	} {
		resp, out := post(t, srv.URL+"/decode", body, header)
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(out, "612345602") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, out)
		}
	}
	if resp, _ := post(t, srv.URL+"/encode", `{"payloads":[]}`, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/encode without the token: %d", resp.StatusCode)
	}
}

// A browser logs in once with the token and then decodes with the cookie (the Web UI's
// "include cross-origin credentials"); the wrong token sets no cookie.
func TestLoginCookie(t *testing.T) {
	srv := newTestServer(t)
	form := func(tok string) *http.Response {
		resp, err := http.PostForm(srv.URL+"/login", url.Values{"token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := form("nope"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp := form(token)
	if resp.StatusCode != 200 || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || c.Value == token || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", c)
	}
	resp, out := post(t, srv.URL+"/decode", encrypted(t), map[string]string{"Cookie": c.Name + "=" + c.Value, "Origin": origin})
	var decoded commonpb.Payloads
	if err := protojson.Unmarshal([]byte(out), &decoded); resp.StatusCode != 200 || err != nil || len(decoded.Payloads) != 1 ||
		string(decoded.Payloads[0].Data) != `"+33612345602"` {
		t.Fatalf("decode with the cookie: %d %s", resp.StatusCode, out)
	}
}

package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// cookieName holds a browser's proof of the token, set by /login: the Web UI cannot send a
// bearer token of ours, but it can send cookies ("include cross-origin credentials").
const cookieName = "smsflow_codec"

// maxBody bounds one /decode request: the Web UI sends the payloads of a page of events.
const maxBody = 16 << 20

// server answers the Temporal Web UI and CLI (`--codec-endpoint`, `--codec-auth`): /encode and
// /decode for a holder of the token, CORS for the allowed origins.
type server struct {
	codec   http.Handler
	token   string
	origins map[string]bool
	log     *slog.Logger
}

func newServer(codec converter.PayloadCodec, token string, origins []string, log *slog.Logger) *server {
	s := &server{codec: converter.NewPayloadCodecHTTPHandler(codec), token: token, origins: map[string]bool{}, log: log}
	for _, o := range origins {
		s.origins[o] = true
	}
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin != "" && s.origins[origin] {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	switch {
	case r.Method == http.MethodOptions:
		// A browser's preflight carries no credentials: it is answered without them.
		if s.origins[origin] {
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Authorization-Extras, Content-Type, X-Namespace")
			h.Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/healthz":
		w.WriteHeader(http.StatusOK)
	case r.URL.Path == "/login":
		s.login(w, r)
	case r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/encode") || strings.HasSuffix(r.URL.Path, "/decode")):
		if !s.authorized(r) {
			s.log.Warn("codec request refused: no valid token", "path", r.URL.Path, "origin", origin)
			w.Header().Set("WWW-Authenticate", `Bearer realm="smsflow codec"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		s.codec.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// authorized: the bearer token, or the cookie /login set.
func (s *server) authorized(r *http.Request) bool {
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(bearer)), []byte(s.token)) == 1 {
		return true
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return hmac.Equal([]byte(c.Value), []byte(s.session()))
	}
	return false
}

// session is the cookie's value: derived from the token, so the cookie is not the token itself
// and changing the token logs every browser out.
func (s *server) session() string {
	m := hmac.New(sha256.New, []byte(s.token))
	m.Write([]byte("smsflow codec browser session"))
	return hex.EncodeToString(m.Sum(nil))
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>smsflow codec server</title></head><body>
<h1>smsflow codec server</h1>
{{if .Done}}<p>This browser may now decode payloads: in the Temporal Web UI, set the codec server to this
server's address with “Include cross-origin credentials” on.</p>
{{else}}{{if .Failed}}<p><strong>Wrong token.</strong></p>{{end}}
<form method="post"><label>Token (CODEC_SERVER_TOKEN) <input type="password" name="token" autocomplete="off"></label>
<button type="submit">Log in</button></form>{{end}}
</body></html>`))

// login shows a form taking the token and, given the right one, sets the browser's cookie.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	view := struct{ Done, Failed bool }{}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("token")), []byte(s.token)) == 1 {
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.session(), Path: "/", HttpOnly: true,
				Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https", SameSite: http.SameSiteLaxMode})
			view.Done = true
		} else {
			s.log.Warn("codec login refused: wrong token")
			w.WriteHeader(http.StatusUnauthorized)
			view.Failed = true
		}
	}
	_ = loginPage.Execute(w, view)
}

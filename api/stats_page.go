package api

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// statsPage holds the statistics page: its HTML, its script and style, and Chart.js (the UMD
// build from the npm package chart.js, MIT, kept as published beside its licence).
//
//go:embed statspage
var statsPage embed.FS

var statsPageHTML = template.Must(template.ParseFS(statsPage, "statspage/index.html"))

// statsPageCSP lets the page run its own scripts and styles only, and call only this API.
const statsPageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'self' https://*.hubspot.com"

// statsAssets serves the page's files under /stats/assets/ (public: they hold no data).
func statsAssets() http.Handler {
	sub, err := fs.Sub(statsPage, "statspage")
	if err != nil {
		panic(err) // the embedded directory exists: a build without it does not compile
	}
	files := http.StripPrefix("/stats/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats/assets/" || r.URL.Path == "/stats/assets/index.html" {
			http.NotFound(w, r) // the page itself is served by /stats, behind its link
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// page serves the statistics page to a valid link; the page reads its figures from the API
// with the same link.
func (s *stats) page(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("X-Content-Type-Options", "nosniff")
	portal, err := s.token.verify(c.Request.URL.Query(), s.now())
	if err != nil {
		c.Data(http.StatusUnauthorized, "text/html; charset=utf-8",
			[]byte(`<!doctype html><meta charset="utf-8"><title>Link expired</title><p>This statistics link has expired or is not valid. Open the statistics again from the SMS card in HubSpot.</p>`))
		return
	}
	exp, _ := strconv.ParseInt(c.Query("exp"), 10, 64) // verified above
	c.Header("Content-Security-Policy", statsPageCSP)
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	if err := statsPageHTML.Execute(c.Writer, map[string]any{"Portal": portal, "Expires": time.Unix(exp, 0).UTC().Format("2006-01-02 15:04")}); err != nil {
		s.d.Log.Error("statistics page", "portal_id", portal, "error", err)
	}
}

package api

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"smsflow/store"
	"smsflow/workflows"
)

// registerLinks adds the recipient-facing pages: tracked short links (/l/:code, a redirect that
// counts the click and tells the message's workflow) and unsubscribe links (/u/:code, a page that
// asks to confirm, then opts the number out). A code is a capability: random, expiring, and
// guarded by rate limits per client IP and per code.
func registerLinks(r *gin.Engine, d Deps) {
	l := &links{d: d, perIP: newLimiter(linkPerIP), perCode: newLimiter(linkPerCode)}
	g := r.Group("", capabilityHeaders, l.limit)
	g.GET("/l/:code", l.follow)
	g.HEAD("/l/:code", l.follow)
	g.GET("/u/:code", func(c *gin.Context) { l.unsubscribe(c, false) })
	g.HEAD("/u/:code", func(c *gin.Context) { l.unsubscribe(c, false) })
	g.POST("/u/:code", func(c *gin.Context) { l.unsubscribe(c, true) })
}

type links struct {
	d              Deps
	perIP, perCode *limiter
}

// codeShape is what a code can look like (base64url); anything else is unknown without a query.
var codeShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// capabilityHeaders keep a code out of caches, search engines and Referer headers, and the
// confirmation button out of other sites' frames.
func capabilityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	c.Next()
}

// limit refuses a client IP, then a code, past its rate.
func (l *links) limit(c *gin.Context) {
	if ok, wait := l.perIP.allow(clientKey(c)); !ok {
		tooMany(c, wait)
		return
	}
	code := c.Param("code")
	if !codeShape.MatchString(code) {
		code = "" // one key for every malformed code: an attacker's junk takes no memory
	}
	if ok, wait := l.perCode.allow(code); !ok {
		tooMany(c, wait)
		return
	}
	c.Next()
}

// lookup reads the code's link of kind, counting visit; store.ErrNotFound for a malformed,
// unknown or expired code or one of another kind.
func (l *links) lookup(ctx context.Context, code, kind string, visit store.Visit) (store.ShortLink, error) {
	if !codeShape.MatchString(code) {
		return store.ShortLink{}, store.ErrNotFound
	}
	link, err := l.d.Store.ShortLinkByCode(ctx, code, visit)
	if err == nil && link.Kind != kind {
		return store.ShortLink{}, store.ErrNotFound
	}
	return link, err
}

// previewAgents are User-Agent fragments (lower case) of link unfurlers, previewers and scanners:
// their fetches redirect like any other but are not clicks. The generic words at the end catch
// the many bots that say what they are.
// In-app browsers (Facebook's FBAN, LinkedInApp, Snapchat, Viber) are people and are not listed.
var previewAgents = []string{
	"slackbot", "slack-imgproxy", "facebookexternalhit", "facebookcatalog", "meta-externalagent",
	"twitterbot", "whatsapp/", "telegrambot", "discordbot", "linkedinbot", "skypeuripreview",
	"google-read-aloud", "google-inspectiontool", "bingpreview", "applebot", "embedly", "iframely",
	"mastodon/", "ms-office", "yahoo! slurp", "headlesschrome",
	"preview", "bot", "crawler", "spider",
}

// notPreviewAgents are real browsers whose User-Agent happens to contain one of the words above
// (CUBOT phones say "CUBOT").
var notPreviewAgents = []string{"cubot"}

// isPreview says whether a request fetches a link without a person following it: a HEAD, no
// User-Agent at all (every browser sends one), or a known previewer or bot.
func isPreview(r *http.Request) bool {
	if r.Method == http.MethodHead {
		return true
	}
	ua := strings.ToLower(strings.TrimSpace(r.UserAgent()))
	if ua == "" {
		return true
	}
	for _, s := range notPreviewAgents {
		ua = strings.ReplaceAll(ua, s, "")
	}
	for _, s := range previewAgents {
		if strings.Contains(ua, s) {
			return true
		}
	}
	return false
}

// follow redirects to the link's target. A click is counted, stored as a click event and
// signalled to the message's workflow; a preview is counted and stored as a preview event only,
// so an unfurled link in a chat does not end a message as clicked.
func (l *links) follow(c *gin.Context) {
	ctx, cancel := l.d.requestContext(c)
	defer cancel()
	preview := isPreview(c.Request)
	visit, kind := store.VisitClick, "click"
	if preview {
		visit, kind = store.VisitPreview, "preview"
	}
	link, err := l.lookup(ctx, c.Param("code"), store.LinkRedirect, visit)
	if errors.Is(err, store.ErrNotFound) {
		c.String(http.StatusNotFound, "This link does not exist or has expired.")
		return
	}
	if err != nil {
		l.d.Log.Error("short link lookup failed", "error", err)
		c.String(http.StatusServiceUnavailable, "Please try again in a moment.")
		return
	}
	eventID := link.Code + ":" + strconv.Itoa(link.Clicks)
	if preview {
		eventID = link.Code + ":preview:" + strconv.Itoa(link.Previews)
	}
	id := link.MessageID
	now := time.Now().UTC()
	if _, err := l.d.Store.AddEvent(ctx, store.Event{MessageID: &id, Source: "link", SourceEventID: eventID, Kind: kind,
		OccurredAt: now, Detail: []byte(fmt.Sprintf(`{"url":%q}`, link.TargetURL))}); err != nil {
		l.d.Log.Error(kind+" event not stored", "message_id", link.MessageID, "error", err)
	}
	if !preview {
		// The recipient gets the page whatever happens to the signal: the click is stored already.
		sctx, scancel := context.WithTimeout(ctx, signalTimeout)
		defer scancel()
		if err := l.d.Temporal.SignalWorkflow(sctx, workflows.SMSWorkflowID(link.MessageID), "", workflows.SignalClick,
			workflows.Click{EventID: eventID, URL: link.TargetURL, OccurredAt: now}); err != nil && !isNotFound(err) {
			l.d.Log.Warn("click not signalled", "message_id", link.MessageID, "error", err)
		}
	}
	c.Redirect(http.StatusFound, link.TargetURL)
}

var unsubscribeHTML = template.Must(template.New("u").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 30em; margin: 3em auto; padding: 0 1em">
{{if .Done}}<h1>You are unsubscribed</h1><p>You will not receive these text messages any more.</p>
{{else}}<h1>Unsubscribe from text messages?</h1>
<form method="post"><button type="submit" style="font-size: 1.2em; padding: .5em 1em">Yes, unsubscribe me</button></form>{{end}}
</body></html>`))

// unsubscribe asks to confirm (GET: link scanners and previews must not opt anyone out), and on
// POST puts the number on the suppression list at once, then tells the workflow so HubSpot hears
// of it; the list is written first so a closed workflow loses nothing. The page is the same for a
// code that does not exist, has expired or is not an unsubscribe link: nobody learns from it
// which codes are real.
func (l *links) unsubscribe(c *gin.Context, confirm bool) {
	ctx, cancel := l.d.requestContext(c)
	defer cancel()
	page := func() {
		c.Status(http.StatusOK)
		c.Header("Content-Type", "text/html; charset=utf-8")
		_ = unsubscribeHTML.Execute(c.Writer, struct{ Done bool }{confirm})
	}
	link, err := l.lookup(ctx, c.Param("code"), store.LinkUnsubscribe, store.VisitNone)
	if errors.Is(err, store.ErrNotFound) {
		page()
		return
	}
	if err != nil {
		l.d.Log.Error("unsubscribe link lookup failed", "error", err)
		c.String(http.StatusServiceUnavailable, "Please try again in a moment.")
		return
	}
	if !confirm {
		page()
		return
	}
	msg, err := l.d.Store.GetMessage(ctx, link.MessageID)
	if err != nil {
		l.d.Log.Error("unsubscribe: message not found", "message_id", link.MessageID, "error", err)
		c.String(http.StatusServiceUnavailable, "Please try again in a moment.")
		return
	}
	if err := l.d.Store.Suppress(ctx, msg.PortalID, msg.Channel, msg.Phone, "unsubscribe_link", msg.ID); err != nil {
		l.d.Log.Error("unsubscribe not stored", "message_id", msg.ID, "error", err)
		c.String(http.StatusServiceUnavailable, "Please try again in a moment.")
		return
	}
	sctx, scancel := context.WithTimeout(ctx, signalTimeout)
	defer scancel()
	if err := l.d.Temporal.SignalWorkflow(sctx, workflows.SMSWorkflowID(msg.ID), "", workflows.SignalUnsubscribe,
		workflows.Unsubscribe{EventID: "unsubscribe:" + link.Code, OccurredAt: time.Now().UTC()}); err != nil && !isNotFound(err) {
		l.d.Log.Warn("unsubscribe not signalled", "message_id", msg.ID, "error", err)
	}
	page()
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

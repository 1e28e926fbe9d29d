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

	"smsflow/signalbox"
	"smsflow/store"
	"smsflow/workflows"
)

// registerLinks adds the recipient-facing pages: tracked short links (/l/:code, a redirect that
// counts the click and tells the message's workflow) and unsubscribe links (/u/:code, a page that
// asks to confirm, then opts the number out). A code is a capability: random, expiring, and
// guarded by rate limits per client IP and per code.
func registerLinks(r *gin.Engine, d Deps, box *signalbox.Box) {
	l := &links{d: d, box: box, perIP: newLimiter(limitOr(d.Config.HTTP.LinkPerIP, linkPerIP)),
		perCode: newLimiter(limitOr(d.Config.HTTP.LinkPerCode, linkPerCode))}
	g := r.Group("", capabilityHeaders, l.limit)
	g.GET("/l/:code", l.follow)
	g.HEAD("/l/:code", l.follow)
	g.GET("/u/:code", func(c *gin.Context) { l.unsubscribe(c, false) })
	g.HEAD("/u/:code", func(c *gin.Context) { l.unsubscribe(c, false) })
	g.POST("/u/:code", func(c *gin.Context) { l.unsubscribe(c, true) })
}

type links struct {
	d              Deps
	box            *signalbox.Box
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

// lookup reads the code's link of kind, counting visit in tx; store.ErrNotFound for a malformed,
// unknown or expired code or one of another kind (whose visit is then not counted: the caller
// rolls tx back).
func lookup(ctx context.Context, tx *store.Tx, code, kind string, visit store.Visit) (store.ShortLink, error) {
	if !codeShape.MatchString(code) {
		return store.ShortLink{}, store.ErrNotFound
	}
	link, err := tx.ShortLinkByCode(ctx, code, visit)
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

// follow redirects to the link's target. A click is counted and stored as a click event in one
// transaction; the first click of the link also owes the message's workflow a signal (repeats are
// counted here only, so a recipient clicking a thousand times costs the workflow one signal). A
// preview is counted and stored as a preview event only, so an unfurled link in a chat does not
// end a message as clicked.
func (l *links) follow(c *gin.Context) {
	ctx, cancel := l.d.requestContext(c)
	defer cancel()
	preview := isPreview(c.Request)
	visit, kind := store.VisitClick, "click"
	if preview {
		visit, kind = store.VisitPreview, "preview"
	}
	now := time.Now().UTC()
	var (
		link   store.ShortLink
		stored store.StoredInbound
	)
	err := l.d.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if link, err = lookup(ctx, tx, c.Param("code"), store.LinkRedirect, visit); err != nil {
			return err
		}
		eventID := link.Code + ":" + strconv.Itoa(link.Clicks)
		var signal *store.Signal
		if preview {
			eventID = link.Code + ":preview:" + strconv.Itoa(link.Previews)
		} else if link.Clicks == 1 {
			signal = signalOf(workflows.SignalClick, workflows.Click{EventID: eventID, URL: link.TargetURL, OccurredAt: now})
		}
		id := link.MessageID
		stored, err = tx.AddInbound(ctx, store.Inbound{Event: store.Event{MessageID: &id, Source: "link", SourceEventID: eventID,
			Kind: kind, OccurredAt: now, Detail: []byte(fmt.Sprintf(`{"url":%q}`, link.TargetURL))},
			PortalID: link.PortalID, Signal: signal, SignalCap: maxClickSignals}, l.box.Lease())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		c.String(http.StatusNotFound, "This link does not exist or has expired.")
		return
	}
	if err != nil {
		l.d.Log.Error(kind+" not stored", "error", err)
		c.String(http.StatusServiceUnavailable, "Please try again in a moment.")
		return
	}
	if stored.Capped {
		l.d.Log.Warn("clicks past the message's cap: stored, not signalled", "message_id", link.MessageID, "cap", maxClickSignals)
	}
	c.Redirect(http.StatusFound, link.TargetURL)
	signalAfterAnswer(c, l.box, kind, stored)
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
// POST stores the confirmation and puts the number on the suppression list, with its history, in
// one transaction, then tells the workflow so HubSpot hears of it (the first confirmation of the
// message only). The list is written whatever state the workflow is in. The page is the same for
// a code that does not exist, has expired or is not an unsubscribe link: nobody learns from it
// which codes are real.
func (l *links) unsubscribe(c *gin.Context, confirm bool) {
	ctx, cancel := l.d.requestContext(c)
	defer cancel()
	page := func() {
		c.Status(http.StatusOK)
		c.Header("Content-Type", "text/html; charset=utf-8")
		_ = unsubscribeHTML.Execute(c.Writer, struct{ Done bool }{confirm})
	}
	var stored store.StoredInbound
	var messageID string
	err := l.d.Store.InTx(ctx, func(tx *store.Tx) error {
		link, err := lookup(ctx, tx, c.Param("code"), store.LinkUnsubscribe, store.VisitNone)
		if err != nil || !confirm {
			return err
		}
		messageID = link.MessageID
		msg, err := l.d.Store.GetMessage(ctx, link.MessageID)
		if err != nil {
			return fmt.Errorf("unsubscribe: message of the link: %w", err)
		}
		now := time.Now().UTC()
		eventID := "unsubscribe:" + msg.ID + ":" + now.Format(time.RFC3339Nano)
		stored, err = tx.AddInbound(ctx, store.Inbound{Event: store.Event{MessageID: &msg.ID, Source: "unsubscribe",
			SourceEventID: eventID, Kind: "unsubscribe", Status: "confirmed", OccurredAt: now}, PortalID: msg.PortalID,
			Signal:    signalOf(workflows.SignalUnsubscribe, workflows.Unsubscribe{EventID: eventID, OccurredAt: now}),
			SignalCap: maxUnsubscribeSignals}, l.box.Lease())
		if err != nil {
			return err
		}
		_, err = tx.ChangeOpt(ctx, store.OptChange{PortalID: msg.PortalID, Channel: msg.Channel, Phone: msg.Phone,
			Action: store.OptOut, Source: store.SourceUnsubscribeURL, MessageID: msg.ID, EventSeq: stored.Seq})
		return err
	})
	if errors.Is(err, store.ErrNotFound) && messageID == "" {
		page()
		return
	}
	if err != nil {
		l.d.Log.Error("unsubscribe not stored", "message_id", messageID, "error", err)
		c.String(http.StatusServiceUnavailable, "Please try again in a moment.")
		return
	}
	page()
	signalAfterAnswer(c, l.box, "unsubscribe", stored)
}

package api

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"smsflow/store"
	"smsflow/workflows"
)

// registerLinks adds the recipient-facing pages: tracked short links (/l/:code, a redirect that
// counts the click and tells the message's workflow) and unsubscribe links (/u/:code, a page that
// asks to confirm, then opts the number out).
func registerLinks(r *gin.Engine, d Deps) {
	r.GET("/l/:code", func(c *gin.Context) { followLink(c, d) })
	r.GET("/u/:code", func(c *gin.Context) { unsubscribePage(c, d, false) })
	r.POST("/u/:code", func(c *gin.Context) { unsubscribePage(c, d, true) })
}

func followLink(c *gin.Context, d Deps) {
	ctx := c.Request.Context()
	link, err := d.Store.ShortLinkByCode(ctx, c.Param("code"), true)
	if errors.Is(err, store.ErrNotFound) || err == nil && link.Kind != store.LinkRedirect {
		c.String(http.StatusNotFound, "This link does not exist or has expired.")
		return
	}
	if err != nil {
		d.Log.Error("short link lookup failed", "error", err)
		c.String(http.StatusServiceUnavailable, "Please try again in a moment.")
		return
	}
	eventID := link.Code + ":" + strconv.Itoa(link.Clicks)
	id := link.MessageID
	if _, err := d.Store.AddEvent(ctx, store.Event{MessageID: &id, Source: "link", SourceEventID: eventID, Kind: "click",
		OccurredAt: time.Now().UTC(), Detail: []byte(fmt.Sprintf(`{"url":%q}`, link.TargetURL))}); err != nil {
		d.Log.Error("click event not stored", "message_id", link.MessageID, "error", err)
	}
	// The recipient gets the page whatever happens to the signal: the click is stored already.
	if err := d.Temporal.SignalWorkflow(ctx, workflows.SMSWorkflowID(link.MessageID), "", workflows.SignalClick,
		workflows.Click{EventID: eventID, URL: link.TargetURL, OccurredAt: time.Now().UTC()}); err != nil && !isNotFound(err) {
		d.Log.Warn("click not signalled", "message_id", link.MessageID, "error", err)
	}
	c.Redirect(http.StatusFound, link.TargetURL)
}

var unsubscribeHTML = template.Must(template.New("u").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 30em; margin: 3em auto; padding: 0 1em">
{{if .Done}}<h1>You are unsubscribed</h1><p>You will not receive these text messages any more.</p>
{{else}}<h1>Unsubscribe from text messages?</h1>
<form method="post"><button type="submit" style="font-size: 1.2em; padding: .5em 1em">Yes, unsubscribe me</button></form>{{end}}
</body></html>`))

// unsubscribePage asks to confirm (GET: link scanners and previews must not opt anyone out), and
// on POST puts the number on the suppression list at once, then tells the workflow so HubSpot
// hears of it; the list is written first so a closed workflow loses nothing.
func unsubscribePage(c *gin.Context, d Deps, confirm bool) {
	ctx := c.Request.Context()
	link, err := d.Store.ShortLinkByCode(ctx, c.Param("code"), false)
	if errors.Is(err, store.ErrNotFound) || err == nil && link.Kind != store.LinkUnsubscribe {
		c.String(http.StatusNotFound, "This link does not exist or has expired.")
		return
	}
	if err != nil {
		c.String(http.StatusServiceUnavailable, "Please try again in a moment.")
		return
	}
	if !confirm {
		c.Status(http.StatusOK)
		_ = unsubscribeHTML.Execute(c.Writer, struct{ Done bool }{false})
		return
	}
	msg, err := d.Store.GetMessage(ctx, link.MessageID)
	if err != nil {
		d.Log.Error("unsubscribe: message not found", "message_id", link.MessageID, "error", err)
		c.String(http.StatusServiceUnavailable, "Please try again in a moment.")
		return
	}
	if err := d.Store.Suppress(ctx, msg.PortalID, msg.Channel, msg.Phone, "unsubscribe_link", msg.ID); err != nil {
		d.Log.Error("unsubscribe not stored", "message_id", msg.ID, "error", err)
		c.String(http.StatusServiceUnavailable, "Please try again in a moment.")
		return
	}
	if err := d.Temporal.SignalWorkflow(ctx, workflows.SMSWorkflowID(msg.ID), "", workflows.SignalUnsubscribe,
		workflows.Unsubscribe{EventID: "unsubscribe:" + link.Code, OccurredAt: time.Now().UTC()}); err != nil && !isNotFound(err) {
		d.Log.Warn("unsubscribe not signalled", "message_id", msg.ID, "error", err)
	}
	c.Status(http.StatusOK)
	_ = unsubscribeHTML.Execute(c.Writer, struct{ Done bool }{true})
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/render"
	"smsflow/store"
	"smsflow/workflows"
)

// templateInput is the Send SMS action's input naming a template (its id); it gives the text in
// place of the message input.
const templateInput = "template"

// Template limits: a name a picker can show, a body within the hard limit of a message.
const (
	maxTemplateName = 100
	maxTemplateBody = 1600
	maxOptions      = 100
)

// applyTemplate puts the text of the portal's template in the request's message, at the version
// recorded for this message (the current one the first time). The workflow input carries the text
// itself, so a message held for days keeps it whatever later edits of the template. It reports
// false when it has answered (FAIL_CONTINUE for an unknown template, 503 when it cannot tell).
func (a *actions) applyTemplate(c *gin.Context, req *workflows.SMSRequest, id string) bool {
	if a.d.Store == nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "templates are unavailable now; retry"})
		return false
	}
	ctx, cancel := a.d.requestContext(c)
	defer cancel()
	t, err := a.d.Store.TemplateForMessage(ctx, req.PortalID, id, req.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		failContinue(c, outcome.TemplateNotFound, "The template chosen in the action does not exist in this HubSpot account (it may have been deleted).")
		return false
	}
	if err != nil {
		a.d.Log.Error("resolve the action's template", "error", err, "portal_id", req.PortalID, "message_id", req.MessageID)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the template cannot be read now; retry"})
		return false
	}
	req.Inputs.Message = t.Body
	return true
}

// optionsRequest is what HubSpot posts to an input's optionsUrl (read leniently: its exact shape
// beyond origin.portalId and fetchOptions.q is UNCONFIRMED).
type optionsRequest struct {
	Origin struct {
		PortalID lenient `json:"portalId"`
	} `json:"origin"`
	PortalID     lenient `json:"portalId"`
	FetchOptions struct {
		Q     string `json:"q"`
		After string `json:"after"`
	} `json:"fetchOptions"`
}

// templateOptions answers the template input's optionsUrl: the portal's templates as options
// (label: name, value: id), filtered by the search text. Signed like an action execution.
func (a *actions) templateOptions(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxCardBody))
	if err != nil {
		c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body too large"})
		return
	}
	if err := hubspot.VerifyRequest(a.d.Config.HubSpot.ClientSecret, c.Request.Header, c.Request.Method, a.publicURI(c.Request), body, a.now()); err != nil {
		a.d.Log.Warn("hubspot options request refused", "reason", err.Error())
		c.JSON(http.StatusUnauthorized, gin.H{"error": "invalid HubSpot signature"})
		return
	}
	var req optionsRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "malformed options request: " + err.Error()})
		return
	}
	portal := string(req.Origin.PortalID)
	if portal == "" {
		portal = string(req.PortalID)
	}
	portalID, err := strconv.ParseInt(strings.TrimSpace(portal), 10, 64)
	if err != nil || portalID <= 0 {
		c.JSON(http.StatusBadRequest, gin.H{"error": "origin.portalId is required"})
		return
	}
	if a.d.Store == nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "templates are unavailable now; retry"})
		return
	}
	ctx, cancel := a.d.requestContext(c)
	defer cancel()
	list, err := a.d.Store.Templates(ctx, portalID)
	if err != nil {
		a.d.Log.Error("list templates for options", "error", err, "portal_id", portalID)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "templates cannot be read now; retry"})
		return
	}
	q := strings.ToLower(strings.TrimSpace(req.FetchOptions.Q))
	type option struct {
		Label       string `json:"label"`
		Value       string `json:"value"`
		Description string `json:"description"`
	}
	options := []option{}
	for _, t := range list {
		if q != "" && !strings.Contains(strings.ToLower(t.Name), q) {
			continue
		}
		if len(options) == maxOptions {
			break
		}
		options = append(options, option{Label: t.Name, Value: t.ID, Description: "v" + strconv.Itoa(t.Version) + " · " + shorten(t.Body, 80)})
	}
	c.JSON(http.StatusOK, gin.H{"options": options, "searchable": true})
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// CardTemplate is a template as the card gets it.
type CardTemplate struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Body      string    `json:"body"`
	Version   int       `json:"version"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Tokens are the record properties the body's tokens read ($prenom → firstname, …).
	Tokens []string `json:"tokens"`
}

func cardTemplate(t store.Template) CardTemplate {
	tokens := render.PropertyNames(t.Body)
	if tokens == nil {
		tokens = []string{}
	}
	return CardTemplate{ID: t.ID, Name: t.Name, Body: t.Body, Version: t.Version, UpdatedBy: t.UpdatedBy, UpdatedAt: t.UpdatedAt, Tokens: tokens}
}

// templateEdit is the body of a template create or update; Version is the version the edit
// started from (0: overwrite whatever is current).
type templateEdit struct {
	Name    string `json:"name"`
	Body    string `json:"body"`
	Version int    `json:"version"`
}

func readTemplateEdit(c *gin.Context) (templateEdit, bool) {
	var e templateEdit
	if err := json.Unmarshal(callerOf(c).body, &e); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "malformed template: " + err.Error()})
		return e, false
	}
	e.Name = strings.TrimSpace(e.Name)
	switch {
	case e.Name == "" || utf8.RuneCountInString(e.Name) > maxTemplateName:
		c.JSON(http.StatusUnprocessableEntity, gin.H{"error": "the name must be 1 to " + strconv.Itoa(maxTemplateName) + " characters"})
		return e, false
	case strings.TrimSpace(e.Body) == "" || utf8.RuneCountInString(e.Body) > maxTemplateBody:
		c.JSON(http.StatusUnprocessableEntity, gin.H{"error": "the text must be 1 to " + strconv.Itoa(maxTemplateBody) + " characters"})
		return e, false
	}
	return e, true
}

// templateFailed answers a store error of a template call.
func (h *card) templateFailed(c *gin.Context, op string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.JSON(http.StatusNotFound, gin.H{"error": "no such template"})
	case errors.Is(err, store.ErrTemplateNameTaken):
		c.JSON(http.StatusConflict, gin.H{"error": "a template with that name exists"})
	case errors.Is(err, store.ErrTemplateVersionConflict):
		c.JSON(http.StatusConflict, gin.H{"error": "the template was changed by someone else; reload it"})
	default:
		h.d.Log.Error("card: "+op+" template", "error", err, "portal_id", callerOf(c).PortalID)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "templates cannot be changed now; retry"})
	}
}

// listTemplates answers GET /hubspot/card/templates.
func (h *card) listTemplates(c *gin.Context) {
	if !h.storeReady(c) {
		return
	}
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	list, err := h.d.Store.Templates(ctx, callerOf(c).PortalID)
	if err != nil {
		h.templateFailed(c, "list", err)
		return
	}
	out := make([]CardTemplate, 0, len(list))
	for _, t := range list {
		out = append(out, cardTemplate(t))
	}
	c.JSON(http.StatusOK, gin.H{"templates": out})
}

// createTemplate answers POST /hubspot/card/templates {name, body}: 201 with version 1.
func (h *card) createTemplate(c *gin.Context) {
	e, ok := readTemplateEdit(c)
	if !ok || !h.storeReady(c) {
		return
	}
	caller := callerOf(c)
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	t, err := h.d.Store.CreateTemplate(ctx, caller.PortalID, e.Name, e.Body, caller.UserID)
	if err != nil {
		h.templateFailed(c, "create", err)
		return
	}
	h.d.Log.Info("template created", "portal_id", caller.PortalID, "template_id", t.ID)
	c.JSON(http.StatusCreated, cardTemplate(t))
}

// getTemplate answers GET /hubspot/card/templates/{id}: the template and its versions.
func (h *card) getTemplate(c *gin.Context) {
	if !h.storeReady(c) {
		return
	}
	caller := callerOf(c)
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	t, err := h.d.Store.GetTemplate(ctx, caller.PortalID, c.Param("id"))
	var versions []store.Template
	if err == nil {
		versions, err = h.d.Store.TemplateVersions(ctx, caller.PortalID, t.ID)
	}
	if err != nil {
		h.templateFailed(c, "read", err)
		return
	}
	out := struct {
		CardTemplate
		Versions []CardTemplate `json:"versions"`
	}{CardTemplate: cardTemplate(t)}
	for _, v := range versions {
		out.Versions = append(out.Versions, cardTemplate(v))
	}
	c.JSON(http.StatusOK, out)
}

// updateTemplate answers PUT /hubspot/card/templates/{id} {name, body, version}: a new version.
func (h *card) updateTemplate(c *gin.Context) {
	e, ok := readTemplateEdit(c)
	if !ok || !h.storeReady(c) {
		return
	}
	caller := callerOf(c)
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	t, err := h.d.Store.UpdateTemplate(ctx, caller.PortalID, c.Param("id"), e.Name, e.Body, caller.UserID, e.Version)
	if err != nil {
		h.templateFailed(c, "update", err)
		return
	}
	h.d.Log.Info("template updated", "portal_id", caller.PortalID, "template_id", t.ID, "version", t.Version)
	c.JSON(http.StatusOK, cardTemplate(t))
}

// deleteTemplate answers DELETE /hubspot/card/templates/{id}: 204; messages that used it keep
// their text and version.
func (h *card) deleteTemplate(c *gin.Context) {
	if !h.storeReady(c) {
		return
	}
	caller := callerOf(c)
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	done, err := h.d.Store.ArchiveTemplate(ctx, caller.PortalID, c.Param("id"))
	if err != nil {
		h.templateFailed(c, "delete", err)
		return
	}
	if !done {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such template"})
		return
	}
	h.d.Log.Info("template deleted", "portal_id", caller.PortalID, "template_id", c.Param("id"))
	c.Status(http.StatusNoContent)
}

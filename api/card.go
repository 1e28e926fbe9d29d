package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/store"
	"smsflow/workflows"
)

// maxCardBody bounds a card request; a message is at most 1,600 characters.
const maxCardBody = 64 << 10

// Card list sizes.
const (
	defaultCardMessages = 10
	maxCardMessages     = 50
	previewRunes        = 200 // the text preview of a message in the card
)

// cardCampaignPrefix names the campaign of card sends without one: HUBSPOT_SMS_CRM_{YYYY}_{MM}.
const cardCampaignPrefix = "HUBSPOT_SMS_CRM_"

// cardNamespace makes message ids from the card's client-generated send ids (UUID v5), apart
// from the ids of HubSpot callback ids.
var cardNamespace = uuid.MustParse("3b0d5d1e-8f7a-4c11-9a43-5e2f4bb1c7a2")

// CardMessageID is the message id of a card send: the same client id of the same portal is the
// same message, so a repeated send (HubSpot's retry, a double click) starts nothing new.
func CardMessageID(portalID int64, clientID string) string {
	return uuid.NewSHA1(cardNamespace, []byte(strconv.FormatInt(portalID, 10)+"/"+clientID)).String()
}

// CardCampaign is the campaign of a card send made at now without a campaign name.
func CardCampaign(now time.Time) string { return cardCampaignPrefix + now.UTC().Format("2006_01") }

var clientIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{8,100}$`)

// cardCaller is who a signed card request comes from. hubspot.fetch adds the account and the
// user to the query string it signs, so they are as trustworthy as the signature.
type cardCaller struct {
	PortalID int64
	UserID   string
	body     []byte
}

const cardCallerKey = "smsflow.cardCaller"

// card serves the HubSpot app card (a UI extension calling us through hubspot.fetch).
type card struct {
	d       Deps
	actions *actions
	now     func() time.Time
}

// registerCard adds the card's routes under /hubspot/card, each authenticated by HubSpot's v3
// request signature.
func registerCard(r *gin.Engine, d Deps, a *actions) {
	h := &card{d: d, actions: a, now: a.now}
	g := r.Group("/hubspot/card", h.authenticate)
	g.GET("/messages", h.messages)
	g.POST("/messages", h.send)
	g.GET("/senders", h.senders)
	g.GET("/templates", h.listTemplates)
	g.POST("/templates", h.createTemplate)
	g.GET("/templates/:id", h.getTemplate)
	g.PUT("/templates/:id", h.updateTemplate)
	g.DELETE("/templates/:id", h.deleteTemplate)
}

// authenticate accepts a request signed with v3 (a v2 signature has no timestamp and could be
// replayed) under the app's client secret over the public URL, the body and the timestamp, and
// naming exactly one account (portalId) in its signed query string.
func (h *card) authenticate(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxCardBody))
	if err != nil {
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body too large"})
		return
	}
	err = hubspot.ErrSignatureMissing
	if c.GetHeader(hubspot.HeaderSignatureV3) != "" {
		err = hubspot.VerifyRequest(h.d.Config.HubSpot.ClientSecret, c.Request.Header, c.Request.Method,
			h.d.Config.PublicBaseURL+c.Request.URL.RequestURI(), body, h.now())
	}
	if err != nil {
		h.d.Log.Warn("card request refused", "reason", err.Error(), "path", c.Request.URL.Path)
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "invalid HubSpot signature"})
		return
	}
	q := c.Request.URL.Query()
	portals, users := q["portalId"], q["userId"]
	var portalID int64
	if len(portals) == 1 {
		portalID, _ = strconv.ParseInt(portals[0], 10, 64)
	}
	// A second portalId or userId would let a caller pick which one we read: refuse.
	if portalID <= 0 || len(users) > 1 {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "the request must name one portalId (and at most one userId)"})
		return
	}
	caller := &cardCaller{PortalID: portalID, body: body}
	if len(users) == 1 {
		caller.UserID = users[0]
	}
	c.Set(cardCallerKey, caller)
	c.Next()
}

func callerOf(c *gin.Context) *cardCaller { return c.MustGet(cardCallerKey).(*cardCaller) }

// storeReady answers 503 when the API has no database.
func (h *card) storeReady(c *gin.Context) bool {
	if h.d.Store == nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the message store is unavailable; retry"})
		return false
	}
	return true
}

// cardRecord reads the record a card request is about: objectType (contacts, 0-1, CONTACT, …)
// and objectId.
func cardRecord(objType, objID string) (string, string, bool) {
	t := objectType(strings.TrimSpace(objType))
	id := strings.TrimSpace(objID)
	switch t {
	case "contact", "company", "deal", "ticket":
	default:
		return "", "", false
	}
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
		return "", "", false
	}
	return t, id, true
}

// CardMessage is one message in the card's list.
type CardMessage struct {
	ID              string     `json:"id"`
	Channel         string     `json:"channel"`
	Status          string     `json:"status"`
	Date            time.Time  `json:"date"` // when it was sent, else when it was accepted
	SendAt          *time.Time `json:"sendAt,omitempty"`
	DeliveredAt     *time.Time `json:"deliveredAt,omitempty"`
	Preview         string     `json:"preview"`
	Segments        int        `json:"segments"`
	Encoding        string     `json:"encoding"`
	Campaign        string     `json:"campaign"`
	Sender          string     `json:"sender"`
	ErrorCode       string     `json:"errorCode,omitempty"`
	ErrorMessage    string     `json:"errorMessage,omitempty"`
	TemplateID      string     `json:"templateId,omitempty"`
	TemplateVersion int        `json:"templateVersion,omitempty"`
}

// messages answers GET /hubspot/card/messages?objectType=…&objectId=…&limit=…: the record's
// latest messages, newest first. The preview is the text as sent, shown to the signed user of
// the portal the message belongs to.
func (h *card) messages(c *gin.Context) {
	caller := callerOf(c)
	objType, objID, ok := cardRecord(c.Query("objectType"), c.Query("objectId"))
	if !ok {
		c.JSON(http.StatusBadRequest, gin.H{"error": "objectType (contact, company, deal, ticket) and a numeric objectId are required"})
		return
	}
	limit := defaultCardMessages
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxCardMessages {
			c.JSON(http.StatusBadRequest, gin.H{"error": "limit must be from 1 to " + strconv.Itoa(maxCardMessages)})
			return
		}
		limit = n
	}
	if !h.storeReady(c) {
		return
	}
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	rows, err := h.d.Store.RecordMessages(ctx, caller.PortalID, objType, objID, limit)
	var used map[string]store.MessageTemplate
	if err == nil {
		ids := make([]string, len(rows))
		for i, m := range rows {
			ids[i] = m.ID
		}
		used, err = h.d.Store.MessageTemplates(ctx, ids)
	}
	if err != nil {
		h.d.Log.Error("card: read record messages", "error", err, "portal_id", caller.PortalID)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "messages cannot be read now; retry"})
		return
	}
	out := make([]CardMessage, 0, len(rows))
	for _, m := range rows {
		date := m.CreatedAt
		if m.SentAt != nil {
			date = *m.SentAt
		}
		cm := CardMessage{ID: m.ID, Channel: m.Channel, Status: m.Status, Date: date, SendAt: m.SendAt, DeliveredAt: m.DeliveredAt,
			Preview: preview(m.Text), Segments: m.Segments, Encoding: m.Encoding, Campaign: m.Campaign, Sender: m.Sender,
			ErrorCode: m.ErrorCode, ErrorMessage: m.ErrorMessage}
		if t, ok := used[m.ID]; ok {
			cm.TemplateID, cm.TemplateVersion = t.TemplateID, t.Version
		}
		out = append(out, cm)
	}
	c.JSON(http.StatusOK, gin.H{"messages": out})
}

// preview is the first previewRunes characters of a text, with an ellipsis when cut.
func preview(text string) string {
	if utf8.RuneCountInString(text) <= previewRunes {
		return text
	}
	r := []rune(text)
	return string(r[:previewRunes]) + "…"
}

// cardSend is the body of POST /hubspot/card/messages. Inputs are the Send SMS action's inputs
// (phone_property, country, sender, message_type, message, allow_unicode, add_stop,
// unsubscribe_url, shorten_urls, utm_*, campaign_name, send_at), validated as the action's are;
// TemplateID, when set, gives the text instead of inputs.message.
type cardSend struct {
	ClientID   string             `json:"clientId"`
	ObjectType lenient            `json:"objectType"`
	ObjectID   lenient            `json:"objectId"`
	TemplateID string             `json:"templateId"`
	Inputs     map[string]lenient `json:"inputs"`
}

// CardSent answers a send: the message and its state.
type CardSent struct {
	MessageID    string `json:"messageId"`
	Status       string `json:"status"`
	Campaign     string `json:"campaignName"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// send answers POST /hubspot/card/messages: it validates the options as the workflow action does
// and starts the SMS workflow (no HubSpot action to complete), once per client id: a repeated
// client id answers with the same message, whatever its body.
func (h *card) send(c *gin.Context) {
	caller := callerOf(c)
	var body cardSend
	if err := json.Unmarshal(caller.body, &body); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "malformed send: " + err.Error()})
		return
	}
	if !clientIDRe.MatchString(body.ClientID) {
		c.JSON(http.StatusBadRequest, gin.H{"error": "clientId must be 8 to 100 letters, digits, - or _ (a UUID)"})
		return
	}
	objType, objID, ok := cardRecord(string(body.ObjectType), string(body.ObjectID))
	if !ok {
		c.JSON(http.StatusBadRequest, gin.H{"error": "objectType (contact, company, deal, ticket) and a numeric objectId are required"})
		return
	}
	if !h.storeReady(c) {
		return
	}
	messageID := CardMessageID(caller.PortalID, body.ClientID)
	// Sent before (its row is written as soon as its workflow prepares it): that message, even
	// once Temporal has forgotten its run.
	if m, found, ok := h.existing(c, messageID); !ok {
		return
	} else if found {
		c.JSON(http.StatusOK, CardSent{MessageID: m.ID, Status: m.Status, Campaign: m.Campaign, ErrorCode: m.ErrorCode, ErrorMessage: m.ErrorMessage})
		return
	}
	now := h.now()
	ex := actionExecution{CallbackID: lenient(body.ClientID), InputFields: map[string]lenient{}}
	ex.Object.ObjectType, ex.Object.ObjectID = lenient(objType), lenient(objID)
	for k, v := range body.Inputs {
		ex.InputFields[k] = v
	}
	delete(ex.InputFields, "wait_for") // nothing waits on a card send
	delete(ex.InputFields, "wait_hours")
	if body.TemplateID != "" {
		ex.InputFields[templateInput] = lenient(body.TemplateID)
	}
	if strings.TrimSpace(string(body.Inputs["campaign_name"])) == "" {
		ex.InputFields["campaign_name"] = lenient(CardCampaign(now))
	}
	req, err := smsRequest(ex, caller.PortalID, now)
	var bad *invalidInput
	if errors.As(err, &bad) {
		c.JSON(http.StatusUnprocessableEntity, CardSent{MessageID: messageID, Status: string(outcome.SMSNotSent),
			ErrorCode: string(bad.code), ErrorMessage: bad.message})
		return
	}
	req.MessageID, req.CallbackID, req.HubSpotWorkflowID, req.ActionDefinitionID = messageID, "", "", ""
	req.Inputs.SendingUser = caller.UserID
	if body.TemplateID != "" {
		ctx, cancel := h.d.requestContext(c)
		t, err := h.d.Store.TemplateForMessage(ctx, caller.PortalID, body.TemplateID, messageID)
		cancel()
		if errors.Is(err, store.ErrNotFound) {
			c.JSON(http.StatusUnprocessableEntity, CardSent{MessageID: messageID, Status: string(outcome.SMSNotSent),
				ErrorCode: string(outcome.TemplateNotFound), ErrorMessage: "The template does not exist in this HubSpot account (it may have been deleted)."})
			return
		}
		if err != nil {
			h.d.Log.Error("card: resolve template", "error", err, "portal_id", caller.PortalID, "message_id", messageID)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the template cannot be read now; retry"})
			return
		}
		req.Inputs.Message = t.Body
	}
	closed, err := h.actions.start(c.Request.Context(), req)
	if err != nil {
		h.d.Log.Error("card: start message workflow", "error", err, "portal_id", caller.PortalID, "message_id", messageID)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the message could not be accepted now; retry"})
		return
	}
	if closed { // ended between our look and the start: what the log says now
		if m, found, ok := h.existing(c, messageID); ok && found {
			c.JSON(http.StatusOK, CardSent{MessageID: m.ID, Status: m.Status, Campaign: m.Campaign, ErrorCode: m.ErrorCode, ErrorMessage: m.ErrorMessage})
		} else if ok {
			c.JSON(http.StatusOK, CardSent{MessageID: messageID, Status: string(outcome.Pending), Campaign: req.Inputs.CampaignName})
		}
		return
	}
	h.d.Log.Info("card send accepted", "portal_id", caller.PortalID, "message_id", messageID, "workflow_id", workflows.SMSWorkflowID(messageID))
	c.JSON(http.StatusAccepted, CardSent{MessageID: messageID, Status: string(outcome.Pending), Campaign: req.Inputs.CampaignName})
}

// existing reads a message of the log; ok is false when the answer (503) was already given.
func (h *card) existing(c *gin.Context, messageID string) (m store.Message, found, ok bool) {
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	m, err := h.d.Store.GetMessage(ctx, messageID)
	if errors.Is(err, store.ErrNotFound) {
		return m, false, true
	}
	if err != nil {
		h.d.Log.Error("card: read message", "error", err, "message_id", messageID)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the message cannot be read now; retry"})
		return m, false, false
	}
	return m, true, true
}

// senders answers GET /hubspot/card/senders: the portal's senders, its default first.
func (h *card) senders(c *gin.Context) {
	caller := callerOf(c)
	if !h.storeReady(c) {
		return
	}
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	list, err := h.d.Store.Senders(ctx, caller.PortalID)
	if err != nil {
		h.d.Log.Error("card: read senders", "error", err, "portal_id", caller.PortalID)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "senders cannot be read now; retry"})
		return
	}
	type sender struct {
		Sender  string `json:"sender"`
		Default bool   `json:"default"`
	}
	out := make([]sender, 0, len(list))
	for _, s := range list {
		out = append(out, sender{s.Sender, s.Default})
	}
	c.JSON(http.StatusOK, gin.H{"senders": out})
}

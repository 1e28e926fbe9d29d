package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"smsflow/carrier"
	"smsflow/carrier/twilio"
	"smsflow/carrier/vonage"
	"smsflow/outcome"
	"smsflow/signalbox"
	"smsflow/store"
	"smsflow/workflows"
)

// registerCarriers adds the webhooks of each configured carrier (primary and secondary): delivery
// status and inbound replies. A carrier that is not configured has no routes, so nobody can post
// reports or replies in its name. Each is authenticated the carrier's way (401 otherwise) and
// stored once per carrier event with the signal it owes the message's workflow; the answer is 200
// as soon as that is committed, whatever the message or its workflow (unknown, running, gone) and
// whether Temporal answers. Only a failure to store is answered 503, so the carrier retries. The
// signal is then tried at once, and delivered by the worker's sweeper when that fails.
func registerCarriers(r *gin.Engine, d Deps, box *signalbox.Box) {
	h := &carrierHooks{d: d, now: time.Now, box: box}
	for _, name := range d.Config.Carriers() {
		switch name {
		case "sim", "twilio", "vonage":
		default:
			continue // config refuses other names; a hand-built one gets no routes
		}
		r.POST("/carriers/"+name+"/status", func(c *gin.Context) { h.status(c, name) })
		r.POST("/carriers/"+name+"/inbound", func(c *gin.Context) { h.inbound(c, name) })
	}
}

type carrierHooks struct {
	d   Deps
	now func() time.Time
	box *signalbox.Box
}

// authenticate reads the request's parameters and checks its signature. A carrier whose secret
// is empty authenticates nothing: an HMAC under an empty key is anyone's to compute.
func (h *carrierHooks) authenticate(c *gin.Context, name string) (params url.Values, ok bool) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "unreadable body"})
		return nil, false
	}
	params, err = bodyParams(c.ContentType(), body)
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "unreadable parameters"})
		return nil, false
	}
	cfg := h.d.Config
	fullURL := cfg.PublicBaseURL + c.Request.URL.RequestURI()
	switch name {
	case "twilio":
		ok = cfg.Carrier.TwilioAuthToken != "" &&
			twilio.ValidSignature(cfg.Carrier.TwilioAuthToken, c.GetHeader(twilio.SignatureHeader), fullURL, params)
	case "sim":
		ok = cfg.Carrier.WebhookSecret != "" &&
			carrier.VerifyWebhook(cfg.Carrier.WebhookSecret, c.GetHeader(carrier.SignatureHeader), fullURL, body, h.now()) == nil
	case "vonage":
		for k, v := range c.Request.URL.Query() {
			params[k] = v
		}
		ok = cfg.Carrier.VonageSignatureSecret != "" &&
			vonage.ValidSignature(cfg.Carrier.VonageSignatureSecret, cfg.Carrier.VonageSignatureMethod, params)
	}
	if !ok {
		h.d.Log.Warn("carrier webhook: bad signature", "carrier", name, "path", c.FullPath())
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "bad or missing signature"})
		return nil, false
	}
	return params, true
}

// bodyParams reads a form or a flat JSON object (Vonage can post JSON).
func bodyParams(contentType string, body []byte) (url.Values, error) {
	if contentType != "application/json" {
		return url.ParseQuery(string(body))
	}
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, err
	}
	params := url.Values{}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			params.Set(k, v)
		case nil:
		default:
			b, _ := json.Marshal(v)
			params.Set(k, string(b))
		}
	}
	return params, nil
}

func (h *carrierHooks) status(c *gin.Context, name string) {
	params, ok := h.authenticate(c, name)
	if !ok {
		return
	}
	var rep carrier.StatusReport
	switch name {
	case "vonage":
		rep, ok = vonage.ParseStatus(params, h.now())
	default:
		rep, ok = twilio.ParseStatus(params, c.Request.URL.Query(), h.now())
	}
	if !ok {
		c.JSON(http.StatusBadRequest, gin.H{"error": "not a status report"})
		return
	}
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	messageID, err := h.messageOf(ctx, name, rep.MessageID, rep.CarrierMessageID)
	if err != nil {
		h.unavailable(c, name, "find message", err)
		return
	}
	detail, _ := json.Marshal(map[string]any{"carrier_message_id": rep.CarrierMessageID, "carrier_status": rep.CarrierStatus,
		"error_code": rep.ErrorCode, "error_message": rep.ErrorMessage, "permanent": rep.Permanent,
		"number_invalid": rep.NumberInvalid, "opted_out": rep.OptedOut, "reference": rep.MessageID})
	in := store.Inbound{Event: store.Event{MessageID: optional(messageID), Source: name, SourceEventID: rep.EventID,
		Kind: "delivery", Status: string(rep.Status), Detail: detail, OccurredAt: rep.OccurredAt}, SignalCap: maxReportSignals}
	if rep.Status.Final() {
		// queued / sent / unknown cannot move a message: stored for the audit, not signalled,
		// which saves the workflow a task and three history events each.
		in.Signal = signalOf(workflows.SignalCarrierReport, workflows.CarrierReport{
			EventID: rep.EventID, Carrier: name, CarrierMessageID: rep.CarrierMessageID, Status: rep.Status,
			ErrorCode: rep.ErrorCode, ErrorMessage: rep.ErrorMessage, Permanent: rep.Permanent || rep.OptedOut,
			NumberInvalid: rep.NumberInvalid, OptedOut: rep.OptedOut, OccurredAt: rep.OccurredAt,
		})
	}
	var stored store.StoredInbound
	err = h.d.Store.InTx(ctx, func(tx *store.Tx) error {
		stored, err = tx.AddInbound(ctx, in, h.box.Lease())
		return err
	})
	if err != nil {
		h.unavailable(c, name, "store report", err)
		return
	}
	switch {
	case messageID == "":
		h.d.Log.Warn("carrier report for an unknown message: stored", "carrier", name, "event_id", rep.EventID)
	case stored.Capped:
		h.d.Log.Warn("carrier reports past the message's cap: stored, not signalled", "carrier", name, "message_id", messageID,
			"cap", maxReportSignals)
	}
	c.JSON(http.StatusOK, gin.H{"stored": true, "message_id": optional(messageID)})
	signalAfterAnswer(c, h.box, "delivery", stored)
}

// inbound stores a reply with what it causes, in one transaction: routed to the message it
// answers (see store.Tx.ReplyRoute, which never crosses portals), and for an opt-out or opt-in
// keyword the change of the portal's suppression list with its history, whatever state the
// message's workflow is in — none, running, closed. The workflow hears of it afterwards.
func (h *carrierHooks) inbound(c *gin.Context, name string) {
	params, ok := h.authenticate(c, name)
	if !ok {
		return
	}
	var in carrier.InboundMessage
	switch name {
	case "vonage":
		in, ok = vonage.ParseInbound(params, h.now())
	default:
		in, ok = twilio.ParseInbound(params, h.now())
	}
	if !ok {
		c.JSON(http.StatusBadRequest, gin.H{"error": "not an inbound message"})
		return
	}
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	isStop, isStart := carrier.ClassifyReply(in.Text)
	status := "reply"
	switch {
	case isStop:
		status = "stop"
	case isStart:
		status = "start"
	}
	detail, _ := json.Marshal(map[string]any{"carrier_message_id": in.CarrierMessageID, "from": in.From, "to": in.To, "text": in.Text})
	var (
		route  store.ReplyRoute
		stored store.StoredInbound
		opted  bool
	)
	err := h.d.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if route, err = tx.ReplyRoute(ctx, in.From, in.To); err != nil {
			return err
		}
		stored, err = tx.AddInbound(ctx, store.Inbound{
			Event: store.Event{MessageID: optional(route.MessageID), Source: name, SourceEventID: in.EventID,
				Kind: "reply", Status: status, Detail: detail, OccurredAt: in.OccurredAt},
			PortalID:  route.PortalID,
			Signal:    signalOf(workflows.SignalReply, workflows.Reply{EventID: in.EventID, Text: in.Text, IsStop: isStop, IsStart: isStart, OccurredAt: in.OccurredAt}),
			SignalCap: maxReplySignals,
		}, h.box.Lease())
		if err != nil || !stored.Inserted || route.PortalID == 0 || !isStop && !isStart {
			return err
		}
		change := store.OptChange{PortalID: route.PortalID, Channel: string(outcome.SMS), Phone: in.From, Action: store.OptOut,
			Source: store.SourceStopReply, Keyword: keyword(in.Text), MessageID: route.MessageID, EventSeq: stored.Seq}
		if isStart {
			change.Action, change.Source = store.OptIn, store.SourceStartReply
		}
		opted = true
		_, err = tx.ChangeOpt(ctx, change)
		return err
	})
	if err != nil {
		h.unavailable(c, name, "store reply", err)
		return
	}
	log := h.d.Log.With("carrier", name, "event_id", in.EventID, "route", route.Why, "message_id", route.MessageID,
		"portal_id", route.PortalID, "reply_kind", status, "suppression_changed", opted)
	switch {
	case route.PortalID == 0:
		log.Warn("reply routed to no portal: stored only")
	case route.MessageID == "":
		log.Info("reply to a number of the portal answering no message: stored")
	case stored.Capped:
		log.Warn("replies past the message's cap: stored, not signalled", "cap", maxReplySignals)
	}
	c.JSON(http.StatusOK, gin.H{"stored": true, "message_id": optional(route.MessageID)})
	signalAfterAnswer(c, h.box, "reply", stored)
}

// keyword is the opt-out or opt-in keyword of a reply as the history keeps it: the reply itself,
// which ClassifyReply only accepts when it is the keyword alone.
func keyword(text string) string {
	k := strings.ToUpper(strings.TrimSpace(text))
	if len(k) > 32 {
		k = k[:32]
	}
	return k
}

// messageOf finds our message id: the reference the report carries when we know it, else the
// carrier's message id; "" when unknown.
func (h *carrierHooks) messageOf(ctx context.Context, name, reference, carrierMessageID string) (string, error) {
	if _, err := uuid.Parse(reference); err == nil {
		known, err := h.d.Store.MessageExists(ctx, reference)
		if err != nil {
			return "", err
		}
		if known {
			return reference, nil
		}
	}
	if carrierMessageID == "" {
		return "", nil
	}
	id, err := h.d.Store.MessageByCarrierID(ctx, name, carrierMessageID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return id, err
}

func (h *carrierHooks) unavailable(c *gin.Context, name, what string, err error) {
	h.d.Log.Error("carrier webhook: "+what, "carrier", name, "error", err)
	c.JSON(http.StatusServiceUnavailable, gin.H{"error": "temporarily unavailable, retry"})
}

func optional(s string) *string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return &s
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"smsflow/carrier"
	"smsflow/carrier/twilio"
	"smsflow/carrier/vonage"
	"smsflow/store"
	"smsflow/workflows"
)

// signalTimeout bounds one signal to a workflow; past it Temporal counts as unreachable and the
// carrier is answered 503 so that it retries.
var signalTimeout = 5 * time.Second

// registerCarriers adds the webhooks of each configured carrier (primary and secondary): delivery
// status and inbound replies. A carrier that is not configured has no routes, so nobody can post
// reports or replies in its name. Each is authenticated the carrier's way (401 otherwise), stored
// once per carrier event, and signalled once to the message's workflow. A report whose message is
// unknown is stored and answered 200; a workflow that is gone is answered 200 (the event is
// stored); Temporal or PostgreSQL unreachable is answered 503 so the carrier retries.
func registerCarriers(r *gin.Engine, d Deps) {
	h := &carrierHooks{d: d, now: time.Now}
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
	if _, err := h.d.Store.AddEvent(ctx, store.Event{MessageID: optional(messageID), Source: name, SourceEventID: rep.EventID,
		Kind: "delivery", Status: string(rep.Status), Detail: detail, OccurredAt: rep.OccurredAt}); err != nil {
		h.unavailable(c, name, "store report", err)
		return
	}
	if messageID == "" {
		h.d.Log.Warn("carrier report for an unknown message: stored", "carrier", name, "event_id", rep.EventID)
		c.JSON(http.StatusOK, gin.H{"stored": true, "message_id": nil})
		return
	}
	if !rep.Status.Final() {
		// queued / sent / unknown cannot move a message: stored for the audit, not signalled,
		// which saves the workflow a task and three history events each.
		c.JSON(http.StatusOK, gin.H{"stored": true, "message_id": messageID})
		return
	}
	_, err = h.signal(ctx, name, rep.EventID, messageID, workflows.SignalCarrierReport, workflows.CarrierReport{
		EventID: rep.EventID, Carrier: name, CarrierMessageID: rep.CarrierMessageID, Status: rep.Status,
		ErrorCode: rep.ErrorCode, ErrorMessage: rep.ErrorMessage, Permanent: rep.Permanent || rep.OptedOut,
		NumberInvalid: rep.NumberInvalid, OptedOut: rep.OptedOut, OccurredAt: rep.OccurredAt,
	})
	if err != nil {
		h.unavailable(c, name, "signal report", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"stored": true, "message_id": messageID})
}

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
	messageID, portalID, err := h.d.Store.ReplyTarget(ctx, in.From, in.To)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.unavailable(c, name, "find replied message", err)
		return
	}
	status := "reply"
	switch {
	case isStop:
		status = "stop"
	case isStart:
		status = "start"
	}
	detail, _ := json.Marshal(map[string]any{"carrier_message_id": in.CarrierMessageID, "from": in.From, "to": in.To, "text": in.Text})
	if _, err := h.d.Store.AddEvent(ctx, store.Event{MessageID: optional(messageID), Source: name, SourceEventID: in.EventID,
		Kind: "reply", Status: status, Detail: detail, OccurredAt: in.OccurredAt}); err != nil {
		h.unavailable(c, name, "store reply", err)
		return
	}
	if messageID == "" {
		h.d.Log.Warn("reply from a number we never sent to: stored", "carrier", name, "event_id", in.EventID)
		c.JSON(http.StatusOK, gin.H{"stored": true, "message_id": nil})
		return
	}
	gone, err := h.signal(ctx, name, in.EventID, messageID, workflows.SignalReply, workflows.Reply{
		EventID: in.EventID, Text: in.Text, IsStop: isStop, IsStart: isStart, OccurredAt: in.OccurredAt,
	})
	if err != nil {
		h.unavailable(c, name, "signal reply", err)
		return
	}
	if gone && (isStop || isStart) {
		// No workflow will record the opt-out: do it here so a STOP is never lost.
		if err := h.d.Store.ApplyReplyKeyword(ctx, portalID, in.From, messageID, isStop, isStart); err != nil {
			h.unavailable(c, name, "record opt-out", err)
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"stored": true, "message_id": messageID})
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

// signal hands a stored event to the message's workflow once. gone reports a workflow that no
// longer runs (the event stays stored); err means Temporal could not be reached.
func (h *carrierHooks) signal(ctx context.Context, source, eventID, messageID, signalName string, payload any) (gone bool, err error) {
	claimed, err := h.d.Store.ClaimEventSignal(ctx, source, eventID)
	if err != nil || !claimed {
		return false, err // not claimed: already signalled, or another delivery is signalling it
	}
	if h.d.Temporal == nil {
		_ = h.d.Store.ReleaseEventSignal(context.WithoutCancel(ctx), source, eventID)
		return false, errors.New("no Temporal client")
	}
	sctx, cancel := context.WithTimeout(ctx, signalTimeout)
	defer cancel()
	err = h.d.Temporal.SignalWorkflow(sctx, workflows.SMSWorkflowID(messageID), "", signalName, payload)
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
	case errors.As(err, &notFound):
		gone = true
		h.d.Log.Info("carrier event for a finished workflow: stored only", "message_id", messageID, "signal", signalName)
	default:
		if rerr := h.d.Store.ReleaseEventSignal(context.WithoutCancel(ctx), source, eventID); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return false, fmt.Errorf("signal %s to %s: %w", signalName, workflows.SMSWorkflowID(messageID), err)
	}
	return gone, h.d.Store.MarkEventSignalled(context.WithoutCancel(ctx), source, eventID)
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

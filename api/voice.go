package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"smsflow/carrier"
	"smsflow/carrier/twilio"
	"smsflow/carrier/vonage"
	"smsflow/signalbox"
	"smsflow/store"
	"smsflow/voice"
)

// maxCallSignals bounds the call events (statuses and keys together) a call's workflow is
// signalled: a menu offered four times, the answer and the end fit well below it.
const maxCallSignals = 12

// Kinds of the message events a call stores.
const (
	eventCallStatus = "call_status"
	eventCallKey    = "call_key"
)

// registerVoice adds the voice webhooks of each configured carrier, all under
// /carriers/<carrier>/voice/ with our call id in the cid parameter:
//
//	POST answer?cid=&round=   the call's script as TwiML (sim, twilio) or NCCO (vonage)
//	POST key?cid=&round=      a key pressed at the menu of round (Twilio Gather action, Vonage
//	                          input eventUrl): answers what the script does next, stores the key
//	                          and signals it to the call's workflow
//	POST status?cid=          a status callback / event: stored, and signalled when answered or final
//
// Every request is authenticated the carrier's way (X-Twilio-Signature, the simulator's
// X-Smsflow-Signature, Vonage's HS256 JWT), else 401. The answers come from the script stored
// before the call, never from a worker.
func registerVoice(r *gin.Engine, d Deps, box *signalbox.Box) {
	h := &voiceHooks{carrierHooks{d: d, now: time.Now, box: box}}
	for _, name := range d.Config.Carriers() {
		switch name {
		case "sim", "twilio", "vonage":
		default:
			continue
		}
		base := "/carriers/" + name + "/voice/"
		r.POST(base+"answer", func(c *gin.Context) { h.answer(c, name) })
		r.GET(base+"answer", func(c *gin.Context) { h.answer(c, name) }) // Vonage's default answer_method
		r.POST(base+"key", func(c *gin.Context) { h.key(c, name) })
		r.POST(base+"status", func(c *gin.Context) { h.status(c, name) })
	}
}

type voiceHooks struct{ carrierHooks }

// authenticateVoice reads the request's parameters and checks its signature.
func (h *voiceHooks) authenticateVoice(c *gin.Context, name string) (url.Values, bool) {
	if name != "vonage" {
		return h.authenticate(c, name)
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "unreadable body"})
		return nil, false
	}
	if err := vonage.VerifyWebhookJWT(h.d.Config.Carrier.VonageSignatureSecret, c.GetHeader("Authorization"), body, h.now()); err != nil {
		h.d.Log.Warn("carrier webhook: bad signature", "carrier", name, "path", c.FullPath())
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "bad or missing signature"})
		return nil, false
	}
	params := url.Values{}
	if len(body) > 0 {
		if params, err = bodyParams(c.ContentType(), body); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "unreadable parameters"})
			return nil, false
		}
	}
	return params, true
}

// loadCall reads the call named by the cid parameter; false when it answered the request.
func (h *voiceHooks) loadCall(c *gin.Context, ctx context.Context, name string) (string, store.VoiceCall, bool) {
	cid := c.Query("cid")
	if _, err := uuid.Parse(cid); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "no call id"})
		return "", store.VoiceCall{}, false
	}
	call, err := h.d.Store.Call(ctx, cid)
	if errors.Is(err, store.ErrNotFound) {
		// No script (erased, or never saved): end the call rather than let the carrier guess.
		h.d.Log.Warn("voice webhook for a call without script: hanging up", "carrier", name, "message_id", cid)
		h.render(c, name, cid, store.VoiceCall{}, []voice.Step{{Kind: voice.StepHangup}})
		return "", store.VoiceCall{}, false
	}
	if err != nil {
		h.unavailable(c, name, "load call script", err)
		return "", store.VoiceCall{}, false
	}
	return cid, call, true
}

// render answers steps in the carrier's format.
func (h *voiceHooks) render(c *gin.Context, name, cid string, call store.VoiceCall, steps []voice.Step) {
	base := h.d.Config.PublicBaseURL
	key := func(round int) string {
		return carrier.VoiceURL(base, name, "key", cid, url.Values{"round": {strconv.Itoa(round)}})
	}
	if name == "vonage" {
		c.Data(http.StatusOK, "application/json", vonage.NCCO(steps, vonage.Links{Key: key, CallerID: call.Caller}))
		return
	}
	answer := func(round int) string {
		return carrier.VoiceURL(base, name, "answer", cid, url.Values{"round": {strconv.Itoa(round)}})
	}
	c.Data(http.StatusOK, "application/xml", []byte(twilio.TwiML(steps, twilio.Links{Key: key, Answer: answer, CallerID: call.Caller})))
}

func round(c *gin.Context) int {
	n, _ := strconv.Atoi(c.Query("round"))
	return max(n, 0)
}

// answer serves the call's script: the opening, or the menu offered at round.
func (h *voiceHooks) answer(c *gin.Context, name string) {
	if _, ok := h.authenticateVoice(c, name); !ok {
		return
	}
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	cid, call, ok := h.loadCall(c, ctx, name)
	if !ok {
		return
	}
	h.render(c, name, cid, call, call.Script.Answer(round(c)))
}

// key answers a key pressed (or the menu's silence) from the script, then stores the key with its
// signal to the call's workflow. The caller hears the script's answer even when storing fails.
func (h *voiceHooks) key(c *gin.Context, name string) {
	params, ok := h.authenticateVoice(c, name)
	if !ok {
		return
	}
	var callID, key string
	if name == "vonage" {
		callID, key, ok = vonage.ParseInput(params)
	} else {
		callID, key, ok = twilio.ParseKey(params)
	}
	if !ok {
		c.JSON(http.StatusBadRequest, gin.H{"error": "not a key input"})
		return
	}
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	cid, call, ok := h.loadCall(c, ctx, name)
	if !ok {
		return
	}
	r := round(c)
	if key == "" {
		h.render(c, name, cid, call, call.Script.Silence(r))
		return
	}
	steps, action := call.Script.Press(r, key)
	ev := voice.CallEvent{EventID: callID + ":key:" + strconv.Itoa(r), Kind: voice.EventKey, Key: key, Action: action, At: h.now().UTC()}
	detail, _ := json.Marshal(map[string]any{"carrier_call_id": callID, "key": key, "action": action, "round": r})
	stored, err := h.store(ctx, name, cid, call.PortalID, eventCallKey, action, ev, detail, true)
	if err != nil {
		h.d.Log.Error("voice webhook: storing a key failed; the call goes on", "carrier", name, "message_id", cid,
			"portal_id", call.PortalID, "error", err)
	}
	h.render(c, name, cid, call, steps)
	signalAfterAnswer(c, h.box, eventCallKey, stored)
}

// status stores a call's status event; answered and final ones are signalled to its workflow.
func (h *voiceHooks) status(c *gin.Context, name string) {
	params, ok := h.authenticateVoice(c, name)
	if !ok {
		return
	}
	var (
		callID string
		ev     voice.CallEvent
	)
	if name == "vonage" {
		callID, ev, ok = vonage.ParseCallEvent(params, h.now())
	} else {
		callID, ev, ok = twilio.ParseCallStatus(params, h.now())
	}
	if !ok {
		// Vonage posts other events (transfers, recordings…) to the same URL: taken, not stored.
		c.JSON(http.StatusOK, gin.H{"stored": false})
		return
	}
	ctx, cancel := h.d.requestContext(c)
	defer cancel()
	cid := c.Query("cid")
	var portal int64
	if _, err := uuid.Parse(cid); err == nil {
		call, err := h.d.Store.Call(ctx, cid)
		switch {
		case errors.Is(err, store.ErrNotFound):
			cid = ""
		case err != nil:
			h.unavailable(c, name, "find call", err)
			return
		default:
			portal = call.PortalID
		}
	} else {
		cid = ""
	}
	if cid == "" {
		id, err := h.d.Store.CallByCarrierID(ctx, name, callID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.unavailable(c, name, "find call", err)
			return
		}
		cid = id
	}
	signal := ev.Status == voice.StatusAnswered || voice.Final(ev.Status)
	detail, _ := json.Marshal(map[string]any{"carrier_call_id": callID, "answered_by": ev.AnsweredBy,
		"duration_seconds": ev.DurationSeconds, "code": ev.Code})
	stored, err := h.store(ctx, name, cid, portal, eventCallStatus, ev.Status, ev, detail, signal)
	if err != nil {
		h.unavailable(c, name, "store call status", err)
		return
	}
	if cid == "" {
		h.d.Log.Warn("call status for an unknown call: stored", "carrier", name, "event_id", ev.EventID)
	}
	c.JSON(http.StatusOK, gin.H{"stored": true, "message_id": optional(cid)})
	signalAfterAnswer(c, h.box, eventCallStatus, stored)
}

// store saves a call event once (per carrier event id) with its signal, when signal is set.
func (h *voiceHooks) store(ctx context.Context, name, cid string, portal int64, kind, status string, ev voice.CallEvent,
	detail []byte, signal bool) (store.StoredInbound, error) {
	in := store.Inbound{Event: store.Event{MessageID: optional(cid), Source: name, SourceEventID: ev.EventID, Kind: kind,
		Status: status, Detail: detail, OccurredAt: ev.At}, PortalID: portal, SignalCap: maxCallSignals}
	if signal {
		in.Signal = signalOf(voice.SignalCallEvent, ev)
	}
	var stored store.StoredInbound
	err := h.d.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		stored, err = tx.AddInbound(ctx, in, h.box.Lease())
		return err
	})
	if err == nil && stored.Capped {
		h.d.Log.Warn("call events past the call's cap: stored, not signalled", "carrier", name, "message_id", cid, "cap", maxCallSignals)
	}
	return stored, err
}

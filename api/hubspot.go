package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nyaruka/phonenumbers"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/store"
	"smsflow/workflows"
)

// maxActionBody bounds an action execution; HubSpot's are a few kilobytes.
const maxActionBody = 1 << 20

// workflowStartTimeout bounds the start of a message workflow on the request path: past it the
// answer is 503 and HubSpot retries. A variable so tests against a dead server stay short.
var workflowStartTimeout = 5 * time.Second

// Hold margins of hs_expiration_duration: how long HubSpot keeps the action blocked beyond the
// wait the user asked for. A marketing message may be held by its country's window (a weekend
// plus a public holiday: up to about three days), and must still complete the action before
// HubSpot gives up waiting and moves on without our outputs.
const (
	holdMargin   = 72 * time.Hour
	maxWaitHours = 720 // 30 days; HubSpot's longest allowed expiry is UNCONFIRMED
	maxSendAhead = 366 * 24 * time.Hour
)

// registerHubSpot adds the HubSpot routes: workflow actions and OAuth.
func registerHubSpot(r *gin.Engine, d Deps) {
	a := &actions{d: d, now: time.Now}
	g := r.Group("/hubspot/actions")
	g.POST("/sms", a.handle(outcome.SMS))
	g.POST("/voice", a.handle(outcome.Voice))
	g.POST("/ivr", a.handle(outcome.IVR))
	g.POST("/options/templates", a.templateOptions)
	registerCard(r, d, a)
	registerOAuth(r, d)
}

type actions struct {
	d   Deps
	now func() time.Time
}

// lenient is a JSON scalar read as a string whatever HubSpot sent: "12", 12, true, null.
type lenient string

func (l *lenient) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*l = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = lenient(s)
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		*l = lenient(b) // kept as JSON text; no input of ours is structured
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err == nil {
			*l = lenient(n.String())
			return nil
		}
		var v bool
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("unexpected JSON value %s", b)
		}
		*l = lenient(strconv.FormatBool(v))
	}
	return nil
}

// actionExecution is HubSpot's POST to an actionUrl, read leniently.
type actionExecution struct {
	CallbackID lenient `json:"callbackId"`
	Origin     struct {
		PortalID           lenient `json:"portalId"`
		ActionDefinitionID lenient `json:"actionDefinitionId"`
	} `json:"origin"`
	Context struct {
		WorkflowID lenient `json:"workflowId"`
	} `json:"context"`
	Object struct {
		ObjectID   lenient            `json:"objectId"`
		ObjectType lenient            `json:"objectType"`
		Properties map[string]lenient `json:"properties"`
	} `json:"object"`
	InputFields map[string]lenient `json:"inputFields"`
}

// invalidInput is a refused input: FAIL_CONTINUE with error_code and error_message.
type invalidInput struct {
	code    outcome.Code
	message string
}

func (e *invalidInput) Error() string { return string(e.code) + ": " + e.message }

func invalid(code outcome.Code, format string, args ...any) *invalidInput {
	return &invalidInput{code: code, message: fmt.Sprintf(format, args...)}
}

func failContinue(c *gin.Context, code outcome.Code, message string) {
	c.JSON(http.StatusOK, gin.H{"outputFields": gin.H{
		hubspot.OutputState: hubspot.StateFailContinue, "error_code": code, "error_message": message}})
}

// publicURI is the URI HubSpot called: our public base URL (behind any proxy) plus the path and
// query of the request.
func (a *actions) publicURI(r *http.Request) string {
	return a.d.Config.PublicBaseURL + r.URL.RequestURI()
}

func (a *actions) handle(channel outcome.Channel) gin.HandlerFunc {
	return func(c *gin.Context) {
		phases := newPhaseClock()
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxActionBody))
		if err != nil {
			c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body too large"})
			return
		}
		if err := hubspot.VerifyRequest(a.d.Config.HubSpot.ClientSecret, c.Request.Header, c.Request.Method, a.publicURI(c.Request), body, a.now()); err != nil {
			a.d.Log.Warn("hubspot action refused", "reason", err.Error(), "path", c.Request.URL.Path)
			c.JSON(http.StatusUnauthorized, gin.H{"error": "invalid HubSpot signature"})
			return
		}
		phases.done(phaseVerify)
		var ex actionExecution
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&ex); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "malformed action execution: " + err.Error()})
			return
		}
		portalID, err := strconv.ParseInt(strings.TrimSpace(string(ex.Origin.PortalID)), 10, 64)
		if err != nil || portalID <= 0 || strings.TrimSpace(string(ex.CallbackID)) == "" || strings.TrimSpace(string(ex.Object.ObjectID)) == "" {
			c.JSON(http.StatusBadRequest, gin.H{"error": "malformed action execution: callbackId, origin.portalId and object.objectId are required"})
			return
		}
		if channel != outcome.SMS {
			a.handleVoice(c, ex, portalID, channel)
			return
		}
		req, err := smsRequest(ex, portalID, a.now())
		phases.done(phaseValidate)
		var bad *invalidInput
		if errors.As(err, &bad) {
			failContinue(c, bad.code, bad.message)
			return
		}
		// HubSpot executing a callbackId again (its retries, a replay): once the action was
		// completed the answer is the outcome it was completed with, never a new BLOCK that nothing
		// would complete; while the message runs, the same BLOCK and no second workflow.
		out, ok := a.previousOutcome(c, req)
		phases.done(phasePrevious)
		if ok {
			a.d.Log.Info("hubspot action repeated after its message ended; answered with its outcome", "portal_id", portalID,
				"message_id", req.MessageID, "state", out[hubspot.OutputState])
			c.JSON(http.StatusOK, gin.H{"outputFields": out})
			return
		}
		if id := strings.TrimSpace(string(ex.InputFields[templateInput])); id != "" {
			if !a.applyTemplate(c, &req, id) {
				return
			}
		}
		closed, err := a.start(c.Request.Context(), req)
		phases.done(phaseStart)
		if err != nil {
			a.d.Log.Error("start message workflow", "error", err, "portal_id", portalID, "message_id", req.MessageID,
				"workflow_id", workflows.SMSWorkflowID(req.MessageID))
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the message could not be accepted now; retry"})
			return
		}
		if closed {
			a.answerClosed(c, req)
			return
		}
		a.d.Log.Info("hubspot action accepted", "portal_id", portalID, "message_id", req.MessageID,
			"workflow_id", workflows.SMSWorkflowID(req.MessageID))
		c.JSON(http.StatusOK, gin.H{"outputFields": gin.H{
			hubspot.OutputState:      hubspot.StateBlock,
			"hs_expiration_duration": isoDuration(expiration(req.Inputs, a.now())),
		}})
	}
}

// previousOutcome is the answer to an execution whose message already ended: the outputs its
// action was completed with, else (a message whose workflow has closed, or is gone from Temporal
// after its retention) the outcome its message log row holds. ok is false for a new callbackId, a
// message still running, and whenever the database cannot say (the start then decides, and never
// starts a second run while Temporal remembers the first).
func (a *actions) previousOutcome(c *gin.Context, req workflows.SMSRequest) (map[string]string, bool) {
	if a.d.Store == nil {
		return nil, false
	}
	ctx, cancel := a.d.requestContext(c)
	defer cancel()
	out, ok, err := a.d.Store.ActionOutcome(ctx, req.MessageID)
	if err != nil {
		a.d.Log.Warn("read the recorded action outcome", "error", err, "message_id", req.MessageID)
		return nil, false
	}
	if ok {
		return out, true
	}
	m, err := a.d.Store.GetMessage(ctx, req.MessageID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			a.d.Log.Warn("read the message of a repeated action", "error", err, "message_id", req.MessageID)
		}
		return nil, false
	}
	if a.d.Temporal == nil {
		return nil, false
	}
	running, err := a.running(c.Request.Context(), req.MessageID)
	if err != nil || running {
		return nil, false
	}
	return messageOutputs(m), true
}

// running says whether the message's workflow is running; a workflow Temporal no longer knows
// (past its retention) is not.
func (a *actions) running(ctx context.Context, messageID string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, workflowStartTimeout)
	defer cancel()
	d, err := a.d.Temporal.DescribeWorkflowExecution(ctx, workflows.SMSWorkflowID(messageID), "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// answerClosed answers an execution whose workflow has closed but which previousOutcome could not
// answer: from the message log when it can be read now, else 503 so HubSpot asks again; a closed
// run that never wrote its message is answered FAIL_CONTINUE.
func (a *actions) answerClosed(c *gin.Context, req workflows.SMSRequest) {
	if a.d.Store != nil {
		ctx, cancel := a.d.requestContext(c)
		defer cancel()
		m, err := a.d.Store.GetMessage(ctx, req.MessageID)
		switch {
		case err == nil:
			c.JSON(http.StatusOK, gin.H{"outputFields": messageOutputs(m)})
			return
		case !errors.Is(err, store.ErrNotFound):
			a.d.Log.Warn("read the message of a repeated action", "error", err, "message_id", req.MessageID)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the message's outcome cannot be read now; retry"})
			return
		}
	}
	a.d.Log.Warn("hubspot action repeated; its workflow closed without a message log row", "portal_id", req.PortalID, "message_id", req.MessageID)
	c.JSON(http.StatusOK, gin.H{"outputFields": gin.H{
		hubspot.OutputState: hubspot.StateFailContinue, "message_id": req.MessageID, "error_code": outcome.OutcomeNotRecorded,
		"error_message": "This action execution was already handled and has ended; its outcome was not recorded."}})
}

// messageOutputs are the action's output fields as the message log has them: the status the
// message reached, FAIL_CONTINUE when it failed (or never got past pending).
func messageOutputs(m store.Message) map[string]string {
	state := hubspot.StateSuccess
	if st := outcome.Status(m.Status); st.Failed() || st == outcome.Pending {
		state = hubspot.StateFailContinue
	}
	return map[string]string{
		hubspot.OutputState: state,
		"sms_status":        m.Status,
		"message_id":        m.ID,
		"campaign_name":     m.Campaign,
		"segments":          strconv.Itoa(m.Segments),
		"encoding":          m.Encoding,
		"error_code":        m.ErrorCode,
		"error_message":     m.ErrorMessage,
	}
}

// start starts the message workflow once per callbackId ever: a retried delivery while it runs
// gets the running one (USE_EXISTING), and after it closed is refused (REJECT_DUPLICATE), which
// start reports as closed.
func (a *actions) start(ctx context.Context, req workflows.SMSRequest) (closed bool, err error) {
	if a.d.Temporal == nil {
		return false, errors.New("no Temporal client")
	}
	ctx, cancel := context.WithTimeout(ctx, workflowStartTimeout)
	defer cancel()
	sa := []temporal.SearchAttributeUpdate{
		workflows.PortalIDKey.ValueSet(strconv.FormatInt(req.PortalID, 10)),
		workflows.RecordIDKey.ValueSet(req.ObjectType + ":" + req.ObjectID),
		workflows.ChannelKey.ValueSet(string(outcome.SMS)),
		workflows.CampaignKey.ValueSet(req.Inputs.CampaignName),
		workflows.StatusKey.ValueSet(string(outcome.Pending)),
	}
	if req.Inputs.Country != "" {
		sa = append(sa, workflows.CountryKey.ValueSet(req.Inputs.Country))
	}
	_, err = a.d.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.SMSWorkflowID(req.MessageID),
		TaskQueue:                a.d.Config.TemporalTaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A running run is returned (USE_EXISTING), a closed one refused with an error: that is
		// how start tells them apart.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(sa...),
	}, workflows.SendSMSName, req)
	if err != nil && temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return true, nil // the same message, ended: nothing new to start
	}
	return false, err
}

var (
	phonePropertyRe = regexp.MustCompile(`^[a-z0-9_]{1,100}$`)
	alnumSenderRe   = regexp.MustCompile(`^[A-Za-z0-9]{1,11}$`)
	numericSenderRe = regexp.MustCompile(`^\+?[0-9]{1,15}$`)
	utmInputs       = []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"}
)

// smsRequest validates the action's inputs and builds the workflow's request.
func smsRequest(ex actionExecution, portalID int64, now time.Time) (workflows.SMSRequest, error) {
	in := func(name string) string { return strings.TrimSpace(string(ex.InputFields[name])) }
	callbackID := strings.TrimSpace(string(ex.CallbackID))
	req := workflows.SMSRequest{
		MessageID:          workflows.MessageIDForCallback(portalID, callbackID),
		CallbackID:         callbackID,
		PortalID:           portalID,
		ActionDefinitionID: strings.TrimSpace(string(ex.Origin.ActionDefinitionID)),
		HubSpotWorkflowID:  strings.TrimSpace(string(ex.Context.WorkflowID)),
		ObjectType:         objectType(string(ex.Object.ObjectType)),
		ObjectID:           strings.TrimSpace(string(ex.Object.ObjectID)),
	}
	if len(ex.Object.Properties) > 0 {
		req.ObjectProperties = make(map[string]string, len(ex.Object.Properties))
		for k, v := range ex.Object.Properties {
			req.ObjectProperties[strings.ToLower(k)] = string(v)
		}
	}
	var i workflows.SMSInputs

	// phone_property: empty means mobilephone, then phone (the workflow's default order).
	if i.PhoneProperty = strings.ToLower(in("phone_property")); i.PhoneProperty != "" && !phonePropertyRe.MatchString(i.PhoneProperty) {
		return req, invalid(outcome.InvalidPhoneProperty, "phone_property %q is not a HubSpot property name (lower-case letters, digits and _).", i.PhoneProperty)
	}
	if i.Country = strings.ToUpper(in("country")); i.Country != "" {
		if _, ok := phonenumbers.GetSupportedRegions()[i.Country]; !ok {
			return req, invalid(outcome.InvalidCountry, "country %q is not an ISO 3166 alpha-2 country code with a phone numbering plan (e.g. FR, US).", i.Country)
		}
	}
	i.Sender = in("sender")
	if i.Sender != "" && !validSender(i.Sender) {
		return req, invalid(outcome.InvalidSender, "sender %q is invalid: use letters and digits only, at most 11 (e.g. MyShop), or a number of at most 15 digits.", i.Sender)
	}
	switch i.MessageType = strings.ToLower(in("message_type")); i.MessageType {
	case "":
		i.MessageType = "marketing" // the stricter: compliance rules apply
	case "marketing", "transactional":
	default:
		return req, invalid(outcome.InvalidMessageType, "message_type %q must be marketing or transactional.", i.MessageType)
	}
	// A template, when chosen, gives the text (resolved by the caller); otherwise the message.
	if i.Message = string(ex.InputFields["message"]); strings.TrimSpace(i.Message) == "" && in(templateInput) == "" {
		return req, invalid(outcome.MissingMessage, "The message is empty.")
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"allow_unicode", &i.AllowUnicode}, {"add_stop", &i.AddStop}, {"unsubscribe_url", &i.UnsubscribeURL}, {"shorten_urls", &i.ShortenURLs}} {
		v, ok := parseBool(in(b.name))
		if !ok {
			return req, invalid(outcome.InvalidBoolean, "%s must be true or false, not %q.", b.name, in(b.name))
		}
		*b.dst = v
	}
	for _, u := range utmInputs {
		if v := in(u); v != "" {
			if i.UTM == nil {
				i.UTM = map[string]string{}
			}
			i.UTM[u] = v
		}
	}
	if i.CampaignName = in("campaign_name"); i.CampaignName == "" {
		i.CampaignName = "HUBSPOT_SMS_WORKFLOW_" + req.HubSpotWorkflowID
	}
	if s := in("send_at"); s != "" {
		t, ok := parseSendAt(s)
		if !ok {
			return req, invalid(outcome.InvalidSendAt, "send_at %q is not a date-time (ISO 8601 like 2026-12-01T09:30:00+01:00, or epoch milliseconds).", s)
		}
		if t.Sub(now) > maxSendAhead {
			return req, invalid(outcome.InvalidSendAt, "send_at %s is more than a year ahead.", t.Format(time.RFC3339))
		}
		t = t.UTC()
		i.SendAt = &t
	}
	switch i.WaitFor = strings.ToLower(in("wait_for")); i.WaitFor {
	case "":
		i.WaitFor = "none"
	case "none", "delivery", "click", "reply":
	default:
		return req, invalid(outcome.InvalidWaitFor, "wait_for %q must be none, delivery, click or reply.", i.WaitFor)
	}
	if s := in("wait_hours"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != float64(int(f)) || f < 0 || f > maxWaitHours {
			return req, invalid(outcome.InvalidWaitHours, "wait_hours %q must be a whole number of hours from 0 to %d.", s, maxWaitHours)
		}
		i.WaitHours = int(f)
	} else if i.WaitFor != "none" {
		i.WaitHours = 24
	}
	req.Inputs = i
	return req, nil
}

// validSender: alphanumeric (letters and digits, at most 11, at least one letter) or numeric (at
// most 15 digits, an optional leading +).
func validSender(s string) bool {
	if numericSenderRe.MatchString(s) {
		return true
	}
	return alnumSenderRe.MatchString(s) && strings.ContainsAny(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz")
}

func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(s) {
	case "", "false", "no", "0", "off":
		return false, true
	case "true", "yes", "1", "on":
		return true, true
	}
	return false, false
}

// parseSendAt reads what a HubSpot date-time input can hold: epoch milliseconds (property
// values), RFC 3339, or a local-less date-time or date taken as UTC.
func parseSendAt(s string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// objectType turns HubSpot's CONTACT / 0-1 into the singular lower-case name of the message log.
func objectType(t string) string {
	switch p := hubspot.ObjectPath(t); p {
	case "contacts", "companies", "deals", "tickets":
		return map[string]string{"contacts": "contact", "companies": "company", "deals": "deal", "tickets": "ticket"}[p]
	default:
		return p
	}
}

// expiration is how long HubSpot should keep the action blocked: until send_at, plus the hold
// margin, plus the outcome wait.
func expiration(i workflows.SMSInputs, now time.Time) time.Duration {
	d := holdMargin
	if i.WaitFor != "none" {
		d += time.Duration(i.WaitHours) * time.Hour
	}
	if i.SendAt != nil && i.SendAt.After(now) {
		d += i.SendAt.Sub(now).Truncate(time.Hour) + time.Hour
	}
	return d
}

// isoDuration formats a duration as ISO 8601 (P3DT4H, PT30M), the form of hs_expiration_duration.
func isoDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	h, m := int(d/time.Hour), int((d%time.Hour)/time.Minute)
	s := "P"
	if days > 0 {
		s += strconv.Itoa(days) + "D"
	}
	if h > 0 || m > 0 {
		s += "T"
		if h > 0 {
			s += strconv.Itoa(h) + "H"
		}
		if m > 0 {
			s += strconv.Itoa(m) + "M"
		}
	}
	if s == "P" {
		s = "PT0S"
	}
	return s
}

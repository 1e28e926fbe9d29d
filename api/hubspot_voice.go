package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nyaruka/phonenumbers"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"smsflow/hubspot"
	"smsflow/outcome"
	"smsflow/store"
	"smsflow/voice"
	"smsflow/workflows"
)

// voiceHoldMargin is the hold margin of a call: the French call window closes for the weekend at
// Friday 20:00 and may stay closed over a Monday holiday until Tuesday 10:00 (86 hours).
const voiceHoldMargin = 96 * time.Hour

// maxKeys is the number of keys of a menu: 0–9.
const maxKeys = 10

var (
	callerIDRe = regexp.MustCompile(`^\+?[1-9][0-9]{6,14}$`)
	languageRe = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z]{2,4}){0,2}$`)
	voiceRe    = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
)

// defaultLanguages are the text-to-speech languages of a call whose action names none, by country.
var defaultLanguages = map[string]string{
	"FR": "fr-FR", "BE": "fr-FR", "ES": "es-ES", "MX": "es-MX", "CO": "es-ES", "PT": "pt-PT", "BR": "pt-BR",
	"DE": "de-DE", "AT": "de-DE", "IT": "it-IT", "GB": "en-GB", "IE": "en-GB", "US": "en-US", "CA": "en-US",
}

// handleVoice answers a "Send voice message" or "Interactive voice call" execution: contact
// records only, inputs validated (FAIL_CONTINUE with a code and a readable reason, as for SMS),
// then the call's workflow started once per callbackId, and BLOCK until it completes the action.
func (a *actions) handleVoice(c *gin.Context, ex actionExecution, portalID int64, channel outcome.Channel) {
	req, err := voiceRequest(ex, portalID, channel)
	var bad *invalidInput
	if errors.As(err, &bad) {
		failContinue(c, bad.code, bad.message)
		return
	}
	if out, ok := a.previousVoiceOutcome(c, req.MessageID); ok {
		a.d.Log.Info("hubspot action repeated after its call ended; answered with its outcome", "portal_id", portalID,
			"message_id", req.MessageID, "state", out[hubspot.OutputState])
		c.JSON(http.StatusOK, gin.H{"outputFields": out})
		return
	}
	closed, err := a.startVoice(c.Request.Context(), req)
	if err != nil {
		a.d.Log.Error("start call workflow", "error", err, "portal_id", portalID, "message_id", req.MessageID,
			"workflow_id", workflows.SMSWorkflowID(req.MessageID))
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the call could not be accepted now; retry"})
		return
	}
	if closed {
		a.answerClosedVoice(c, req)
		return
	}
	a.d.Log.Info("hubspot voice action accepted", "portal_id", portalID, "message_id", req.MessageID, "channel", string(channel),
		"workflow_id", workflows.SMSWorkflowID(req.MessageID))
	c.JSON(http.StatusOK, gin.H{"outputFields": gin.H{
		hubspot.OutputState:      hubspot.StateBlock,
		"hs_expiration_duration": isoDuration(voiceExpiration(req.Inputs)),
	}})
}

// voiceExpiration is how long HubSpot keeps the action blocked: the hold margin plus the wait.
func voiceExpiration(i workflows.VoiceInputs) time.Duration {
	d := voiceHoldMargin
	if i.WaitFor != workflows.WaitNone {
		d += time.Duration(i.WaitHours) * time.Hour
	}
	return d
}

// previousVoiceOutcome is previousOutcome for calls: the outputs the action was completed with,
// else those of the message log once its workflow no longer runs.
func (a *actions) previousVoiceOutcome(c *gin.Context, messageID string) (map[string]string, bool) {
	if a.d.Store == nil {
		return nil, false
	}
	ctx, cancel := a.d.requestContext(c)
	defer cancel()
	out, ok, err := a.d.Store.ActionOutcome(ctx, messageID)
	if err != nil {
		a.d.Log.Warn("read the recorded action outcome", "error", err, "message_id", messageID)
		return nil, false
	}
	if ok {
		return out, true
	}
	m, err := a.d.Store.GetMessage(ctx, messageID)
	if err != nil || a.d.Temporal == nil {
		return nil, false
	}
	running, err := a.running(c.Request.Context(), messageID)
	if err != nil || running {
		return nil, false
	}
	return voiceOutputs(m), true
}

// answerClosedVoice answers an execution whose call workflow closed: from the message log, else
// 503 (HubSpot asks again) or FAIL_CONTINUE when the run never wrote its message.
func (a *actions) answerClosedVoice(c *gin.Context, req workflows.VoiceRequest) {
	if a.d.Store != nil {
		ctx, cancel := a.d.requestContext(c)
		defer cancel()
		m, err := a.d.Store.GetMessage(ctx, req.MessageID)
		switch {
		case err == nil:
			c.JSON(http.StatusOK, gin.H{"outputFields": voiceOutputs(m)})
			return
		case !errors.Is(err, store.ErrNotFound):
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the call's outcome cannot be read now; retry"})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"outputFields": gin.H{
		hubspot.OutputState: hubspot.StateFailContinue, "message_id": req.MessageID, "error_code": outcome.OutcomeNotRecorded,
		"error_message": "This action execution was already handled and has ended; its outcome was not recorded."}})
}

// voiceOutputs are a call's output fields as the message log has them.
func voiceOutputs(m store.Message) map[string]string {
	state := hubspot.StateSuccess
	if st := outcome.Status(m.Status); st.NotSent() || st == outcome.Pending {
		state = hubspot.StateFailContinue
	}
	return map[string]string{hubspot.OutputState: state, "voice_status": m.Status, "message_id": m.ID,
		"campaign_name": m.Campaign, "error_code": m.ErrorCode, "error_message": m.ErrorMessage}
}

// startVoice starts the call's workflow once per callbackId ever (see start).
func (a *actions) startVoice(ctx context.Context, req workflows.VoiceRequest) (closed bool, err error) {
	if a.d.Temporal == nil {
		return false, errors.New("no Temporal client")
	}
	ctx, cancel := context.WithTimeout(ctx, workflowStartTimeout)
	defer cancel()
	sa := []temporal.SearchAttributeUpdate{
		workflows.PortalIDKey.ValueSet(strconv.FormatInt(req.PortalID, 10)),
		workflows.RecordIDKey.ValueSet(req.ObjectType + ":" + req.ObjectID),
		workflows.ChannelKey.ValueSet(string(req.Channel)),
		workflows.CampaignKey.ValueSet(req.Inputs.CampaignName),
		workflows.StatusKey.ValueSet(string(outcome.Pending)),
	}
	if req.Inputs.Country != "" {
		sa = append(sa, workflows.CountryKey.ValueSet(req.Inputs.Country))
	}
	_, err = a.d.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       workflows.SMSWorkflowID(req.MessageID),
		TaskQueue:                                a.d.Config.TemporalTaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(sa...),
	}, workflows.SendVoiceName, req)
	if err != nil && temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return true, nil
	}
	return false, err
}

// voiceRequest validates a voice or interactive action's inputs and builds the call's request.
func voiceRequest(ex actionExecution, portalID int64, channel outcome.Channel) (workflows.VoiceRequest, error) {
	in := func(name string) string { return strings.TrimSpace(string(ex.InputFields[name])) }
	callbackID := strings.TrimSpace(string(ex.CallbackID))
	req := workflows.VoiceRequest{
		MessageID: workflows.MessageIDForCallback(portalID, callbackID), CallbackID: callbackID, PortalID: portalID,
		ActionDefinitionID: strings.TrimSpace(string(ex.Origin.ActionDefinitionID)),
		HubSpotWorkflowID:  strings.TrimSpace(string(ex.Context.WorkflowID)),
		ObjectType:         objectType(string(ex.Object.ObjectType)), ObjectID: strings.TrimSpace(string(ex.Object.ObjectID)),
		Channel: channel,
	}
	if req.ObjectType != "contact" {
		return req, invalid(outcome.VoiceContactOnly, "%s", outcome.VoiceContactOnly.Message())
	}
	if len(ex.Object.Properties) > 0 {
		req.ObjectProperties = make(map[string]string, len(ex.Object.Properties))
		for k, v := range ex.Object.Properties {
			req.ObjectProperties[strings.ToLower(k)] = string(v)
		}
	}
	var i workflows.VoiceInputs
	if i.PhoneProperty = strings.ToLower(in("phone_property")); i.PhoneProperty != "" && !phonePropertyRe.MatchString(i.PhoneProperty) {
		return req, invalid(outcome.InvalidPhoneProperty, "phone_property %q is not a HubSpot property name (lower-case letters, digits and _).", i.PhoneProperty)
	}
	var err error
	if i.Country, err = countryInput(in("country")); err != nil {
		return req, err
	}
	if i.CallerID, err = callerID(in("caller_id")); err != nil {
		return req, err
	}
	switch i.MessageType = strings.ToLower(in("message_type")); i.MessageType {
	case "", "marketing", "prospecting":
		i.MessageType = "marketing" // the stricter: the call windows apply
	case "transactional":
	default:
		return req, invalid(outcome.InvalidMessageType, "message_type %q must be marketing (prospecting) or transactional.", i.MessageType)
	}
	lang, voiceName := in("language"), in("voice")
	if lang == "" {
		if lang = defaultLanguages[i.Country]; lang == "" {
			lang = "en-US"
		}
	}
	if !languageRe.MatchString(lang) {
		return req, invalid(outcome.InvalidLanguage, "language %q is not a language tag like fr-FR or en-US.", lang)
	}
	if voiceName != "" && !voiceRe.MatchString(voiceName) {
		return req, invalid(outcome.InvalidLanguage, "voice %q is not a voice name (letters, digits, . _ : -).", voiceName)
	}
	speech := func(textInput, audioInput string, required bool, what string) (voice.Speech, error) {
		sp := voice.Speech{Text: string(ex.InputFields[textInput]), Language: lang, Voice: voiceName, AudioURL: in(audioInput)}
		if strings.TrimSpace(sp.Text) == "" {
			sp.Text = ""
		}
		if sp.AudioURL != "" {
			if u, err := url.Parse(sp.AudioURL); err != nil || u.Scheme != "https" || u.Host == "" {
				return sp, invalid(outcome.InvalidAudioURL, "%s %q must be an https URL of an audio file.", audioInput, sp.AudioURL)
			}
		}
		if required && sp.Empty() {
			return sp, invalid(outcome.MissingSpeech, "%s: give a text to speak or an audio file URL.", what)
		}
		return sp, nil
	}
	if i.Speech, err = speech("text", "audio_url", true, "The message"); err != nil {
		return req, err
	}
	if i.CampaignName = in("campaign_name"); i.CampaignName == "" {
		i.CampaignName = "HUBSPOT_" + strings.ToUpper(string(channel)) + "_WORKFLOW_" + req.HubSpotWorkflowID
	}
	switch i.WaitFor = strings.ToLower(in("wait_for")); i.WaitFor {
	case "":
		i.WaitFor = workflows.WaitDelivery // the action blocks until the call ends
	case workflows.WaitNone, workflows.WaitDelivery:
	default:
		return req, invalid(outcome.InvalidWaitFor, "wait_for %q must be none or delivery.", i.WaitFor)
	}
	i.WaitHours = 24
	if s := in("wait_hours"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != float64(int(f)) || f < 0 || f > maxWaitHours {
			return req, invalid(outcome.InvalidWaitHours, "wait_hours %q must be a whole number of hours from 0 to %d.", s, maxWaitHours)
		}
		i.WaitHours = int(f)
	}
	if channel == outcome.IVR {
		if err := menuInputs(&i, in, speech); err != nil {
			return req, err
		}
	}
	req.Inputs = i
	return req, nil
}

// countryInput validates the country input (ISO 3166 alpha-2 with a numbering plan).
func countryInput(s string) (string, error) {
	c := strings.ToUpper(s)
	if c == "" {
		return "", nil
	}
	if !validRegion(c) {
		return c, invalid(outcome.InvalidCountry, "country %q is not an ISO 3166 alpha-2 country code with a phone numbering plan (e.g. FR, US).", c)
	}
	return c, nil
}

// validRegion reports whether c is a region with a phone numbering plan.
func validRegion(c string) bool {
	_, ok := phonenumbers.GetSupportedRegions()[c]
	return ok
}

// callerID validates a caller id: a number in international form (a missing + is added).
func callerID(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	n := strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "").Replace(s)
	n = strings.TrimPrefix(n, "00")
	if !callerIDRe.MatchString(n) {
		return s, invalid(outcome.InvalidCallerID, "caller_id %q must be a phone number in international form, e.g. +33900000000.", s)
	}
	if !strings.HasPrefix(n, "+") {
		n = "+" + n
	}
	return n, nil
}

// menuInputs reads an interactive call's menu: key_<n>_action for n in 0–9 (play, transfer, sms,
// unsubscribe, or empty/none for a key without action), each with key_<n>_text / key_<n>_audio_url
// (what the key says: the message played, the announcement before a transfer or an SMS),
// key_<n>_transfer_to, and key_<n>_sms_message / key_<n>_sms_sender; the SMS options shared by
// the keys (sms_sender, sms_allow_unicode, sms_add_stop, sms_shorten_urls, sms_unsubscribe_url);
// wrong_key_text / wrong_key_audio_url, and repeats (0–3, default 1).
func menuInputs(i *workflows.VoiceInputs, in func(string) string, speech func(string, string, bool, string) (voice.Speech, error)) error {
	smsBools := map[string]bool{}
	for _, name := range []string{"sms_allow_unicode", "sms_add_stop", "sms_shorten_urls", "sms_unsubscribe_url"} {
		v, ok := parseBool(in(name))
		if !ok {
			return invalid(outcome.InvalidBoolean, "%s must be true or false, not %q.", name, in(name))
		}
		smsBools[name] = v
	}
	for n := 0; n < maxKeys; n++ {
		k := strconv.Itoa(n)
		field := func(s string) string { return "key_" + k + "_" + s }
		action := strings.ToLower(in(field("action")))
		if action == "" || action == "none" {
			continue
		}
		ka := voice.KeyAction{Key: k, Action: action}
		sp, err := speech(field("text"), field("audio_url"), action == voice.ActionPlay, "Key "+k+" (play)")
		if err != nil {
			return err
		}
		ka.Speech = sp
		key := workflows.KeyInput{Action: ka}
		switch action {
		case voice.ActionPlay, voice.ActionUnsubscribe:
		case voice.ActionTransfer:
			to, err := callerID(in(field("transfer_to")))
			if err != nil || to == "" {
				return invalid(outcome.InvalidKeyAction, "key %s transfers the call: %s must be a phone number in international form.", k, field("transfer_to"))
			}
			key.Action.TransferTo = to
		case voice.ActionSMS:
			msg := in(field("sms_message"))
			if msg == "" {
				return invalid(outcome.InvalidKeyAction, "key %s sends an SMS: %s is empty.", k, field("sms_message"))
			}
			sender := in(field("sms_sender"))
			if sender == "" {
				sender = in("sms_sender")
			}
			if sender != "" && !validSender(sender) {
				return invalid(outcome.InvalidSender, "key %s: sender %q is invalid: use letters and digits only, at most 11, or a number of at most 15 digits.", k, sender)
			}
			key.SMS = &workflows.SMSInputs{Sender: sender, MessageType: i.MessageType, Message: msg,
				AllowUnicode: smsBools["sms_allow_unicode"], AddStop: smsBools["sms_add_stop"],
				ShortenURLs: smsBools["sms_shorten_urls"], UnsubscribeURL: smsBools["sms_unsubscribe_url"]}
		default:
			return invalid(outcome.InvalidKeyAction, "%s %q must be play, transfer, sms, unsubscribe or none.", field("action"), action)
		}
		i.Keys = append(i.Keys, key)
	}
	if len(i.Keys) == 0 {
		return invalid(outcome.InvalidKeyAction, "An interactive call needs at least one key with an action (key_0_action … key_9_action).")
	}
	var err error
	if i.WrongKey, err = speech("wrong_key_text", "wrong_key_audio_url", false, "The wrong-key prompt"); err != nil {
		return err
	}
	i.Repeats = 1
	if s := in("repeats"); s != "" {
		r, err := strconv.Atoi(s)
		if err != nil || r < 0 || r > voice.MaxRepeats {
			return invalid(outcome.InvalidRepeats, "repeats %q must be a whole number from 0 to %d.", s, voice.MaxRepeats)
		}
		i.Repeats = r
	}
	return nil
}

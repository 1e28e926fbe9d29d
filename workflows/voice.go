package workflows

import (
	"math"
	"strconv"
	"time"

	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/outcome"
	"smsflow/voice"
)

// SendVoiceName is the registered name of the call lifecycle: voice messages and interactive
// calls alike (an interactive call is a voice message with a menu).
//
// A call's workflow id is SMSWorkflowID(message id), as every message's: the inbound outbox,
// the cancellation of a disconnected portal and erasure find calls and SMS the same way.
const SendVoiceName = "SendVoice"

func voiceWorkflowOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: SendVoiceName}
}

// VoiceRequest is one HubSpot "Send voice message" or "Interactive voice call" action
// execution, validated by the API.
type VoiceRequest struct {
	MessageID          string            `json:"MessageID"`
	CallbackID         string            `json:"CallbackID"`
	PortalID           int64             `json:"PortalID"`
	ActionDefinitionID string            `json:"ActionDefinitionID"`
	HubSpotWorkflowID  string            `json:"HubSpotWorkflowID"`
	ObjectType         string            `json:"ObjectType"`
	ObjectID           string            `json:"ObjectID"`
	ObjectProperties   map[string]string `json:"ObjectProperties"`
	// Channel is voice (a voice message) or ivr (an interactive call).
	Channel outcome.Channel `json:"Channel"`
	Inputs  VoiceInputs     `json:"Inputs"`
}

// VoiceInputs are the action's input fields, typed.
type VoiceInputs struct {
	PhoneProperty string       `json:"PhoneProperty"`
	Country       string       `json:"Country"`
	CallerID      string       `json:"CallerID"`    // empty: the portal's default caller
	MessageType   string       `json:"MessageType"` // marketing (a prospecting call) | transactional
	Speech        voice.Speech `json:"Speech"`      // the opening: text to speech (with tokens) or an audio file
	CampaignName  string       `json:"CampaignName"`
	WaitFor       string       `json:"WaitFor"` // none | delivery (the call's end)
	WaitHours     int          `json:"WaitHours"`
	// Keys are the menu of an interactive call (up to ten, keys 0–9).
	Keys     []KeyInput   `json:"Keys"`
	WrongKey voice.Speech `json:"WrongKey"`
	Repeats  int          `json:"Repeats"` // 0..voice.MaxRepeats
}

// KeyInput is one key of the menu, with the SMS it sends for voice.ActionSMS.
type KeyInput struct {
	Action voice.KeyAction `json:"Action"`
	// SMS is the SMS the key sends, configured as the SMS action (sender, message, options); the
	// recipient, country and campaign are the call's when it leaves them empty.
	SMS *SMSInputs `json:"SMS"`
}

// VoiceResult is the outcome the HubSpot action is completed with.
type VoiceResult struct {
	Status          outcome.Status `json:"Status"`
	MessageID       string         `json:"MessageID"`
	CampaignName    string         `json:"CampaignName"`
	AnsweredBy      string         `json:"AnsweredBy"` // human | machine | unknown, once answered
	DurationSeconds int            `json:"DurationSeconds"`
	Units           int            `json:"Units"` // billed minutes, rounded up
	Key             string         `json:"Key"`   // the last valid key pressed
	KeyAction       string         `json:"KeyAction"`
	SMSMessageID    string         `json:"SMSMessageID"` // the SMS a key sent
	SMSStatus       outcome.Status `json:"SMSStatus"`
	ErrorCode       outcome.Code   `json:"ErrorCode"`
	ErrorMessage    string         `json:"ErrorMessage"`
}

// Outputs are the action's output fields, as HubSpot takes them (strings).
func (r VoiceResult) Outputs() map[string]string {
	return map[string]string{
		"voice_status":   string(r.Status),
		"message_id":     r.MessageID,
		"campaign_name":  r.CampaignName,
		"answered_by":    r.AnsweredBy,
		"call_duration":  strconv.Itoa(r.DurationSeconds),
		"call_units":     strconv.Itoa(r.Units),
		"key_pressed":    r.Key,
		"key_action":     r.KeyAction,
		"sms_message_id": r.SMSMessageID,
		"sms_status":     string(r.SMSStatus),
		"error_code":     string(r.ErrorCode),
		"error_message":  r.ErrorMessage,
	}
}

// CallState is what the state query of a call answers: where the call is and why.
type CallState struct {
	MessageID       string          `json:"MessageID"`
	Channel         outcome.Channel `json:"Channel"`
	Status          outcome.Status  `json:"Status"`
	ErrorCode       outcome.Code    `json:"ErrorCode"`
	ErrorMessage    string          `json:"ErrorMessage"`
	WakeAt          *time.Time      `json:"WakeAt"` // set while held by the call window
	HeldReason      string          `json:"HeldReason"`
	Carrier         string          `json:"Carrier"`
	CarrierCallID   string          `json:"CarrierCallID"`
	CallStatus      string          `json:"CallStatus"` // the carrier's last status (voice.Status…)
	AnsweredBy      string          `json:"AnsweredBy"`
	DurationSeconds int             `json:"DurationSeconds"`
	Units           int             `json:"Units"`
	Ended           bool            `json:"Ended"` // the carrier reported the call's end
	Keys            []KeyPressed    `json:"Keys"`
	SMS             []ChildSMS      `json:"SMS"`
	ActionCompleted bool            `json:"ActionCompleted"`
	History         []StatusChange  `json:"History"`
}

// KeyPressed is one key the recipient pressed and what the call did.
type KeyPressed struct {
	Key    string    `json:"Key"`
	Action string    `json:"Action"` // a voice.Action constant, or voice.ActionWrongKey
	At     time.Time `json:"At"`
}

// ChildSMS is an SMS a key started, as its own SendSMS workflow.
type ChildSMS struct {
	Key          string         `json:"Key"`
	MessageID    string         `json:"MessageID"`
	Status       outcome.Status `json:"Status"`
	ErrorCode    outcome.Code   `json:"ErrorCode"`
	ErrorMessage string         `json:"ErrorMessage"`
}

// call is one call's lifecycle state.
type call struct {
	req      VoiceRequest
	settings activities.Settings
	prepared activities.PreparedCall
	state    CallState
	seen     map[string]bool // event ids applied: a re-delivered event is applied once
	events   int             // call events applied, bounded by maxCallEvents
	ending   bool            // the lifecycle failed or was cancelled: the last steps run on short options
	a        *activities.Activities
}

// SendVoice is the lifecycle of one call: resolve the recipient and the script, hold until the
// call window opens, place the call (once), follow its events — answered, keys, its end — doing
// what the keys ask beyond the call (an SMS, an unsubscribe), then complete the HubSpot action.
func SendVoice(ctx workflow.Context, req VoiceRequest) (VoiceResult, error) {
	c := &call{req: req, seen: map[string]bool{},
		state: CallState{MessageID: req.MessageID, Channel: req.channel(), Status: outcome.Pending}}
	if err := c.setup(ctx); err != nil {
		return VoiceResult{}, err
	}
	res, err := c.run(ctx)
	if err != nil {
		return c.endAfterFailure(ctx, err)
	}
	return res, nil
}

// channel is the request's channel: ivr for a call with a menu, else voice.
func (r VoiceRequest) channel() outcome.Channel {
	if r.Channel == outcome.IVR || len(r.Inputs.Keys) > 0 {
		return outcome.IVR
	}
	return outcome.Voice
}

// setup answers the state query and sets the search attributes known from the request (no
// personal data: the phone's hash comes once resolved, never the number or the text).
func (c *call) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CallState, error) { return c.state, nil }); err != nil {
		return err
	}
	return workflow.UpsertTypedSearchAttributes(ctx,
		PortalIDKey.ValueSet(strconv.FormatInt(c.req.PortalID, 10)),
		RecordIDKey.ValueSet(c.req.ObjectType+":"+c.req.ObjectID),
		ChannelKey.ValueSet(string(c.req.channel())),
		CampaignKey.ValueSet(c.req.Inputs.CampaignName),
		StatusKey.ValueSet(string(outcome.Pending)),
	)
}

// run is the call's whole life; each step ends it early when the call cannot go on.
func (c *call) run(ctx workflow.Context) (VoiceResult, error) {
	if c.req.ObjectType != "contact" {
		err := c.notPlaced(ctx, outcome.VoiceContactOnly, outcome.VoiceContactOnly.Message())
		return c.result(), err
	}
	if ok, err := c.prepare(ctx); !ok || err != nil {
		return c.result(), err
	}
	wake, reason := c.prepared.CallAt, c.prepared.HeldReason
	for {
		if err := c.sleepUntil(ctx, wake, reason); err != nil {
			return c.result(), err
		}
		held, ok, err := c.place(ctx)
		if !ok || err != nil {
			return c.result(), err
		}
		if held == nil {
			break
		}
		wake, reason = held.until, held.reason // the window closed right before the call
	}
	if err := c.followCall(ctx); err != nil {
		return c.result(), err
	}
	return c.result(), nil
}

// script is the call's script as the action wrote it (texts with their tokens).
func (c *call) script() voice.Script {
	in := c.req.Inputs
	sc := voice.Script{CallID: c.req.MessageID, Opening: in.Speech, WrongKey: in.WrongKey, Repeats: in.Repeats}
	for _, k := range in.Keys {
		sc.Keys = append(sc.Keys, k.Action)
	}
	return sc
}

// prepare settles the caller id, the recipient, the personalized script and the call time (one
// recorded local activity), then tags the run with the country and the phone's hash. It reports
// false when the call ended NOT_SENT.
func (c *call) prepare(ctx workflow.Context) (bool, error) {
	in := c.req.Inputs
	wfID := workflow.GetInfo(ctx).WorkflowExecution.ID
	var p activities.PreparedCall
	if err := workflow.ExecuteLocalActivity(c.localOptions(ctx), c.a.PrepareCall, activities.PrepareCallInput{
		Recipient: activities.RecipientInput{
			PortalID: c.req.PortalID, ObjectType: c.req.ObjectType, ObjectID: c.req.ObjectID,
			PhoneProperty: in.PhoneProperty, Country: in.Country, MessageType: in.MessageType, Known: c.req.ObjectProperties,
		},
		MessageID: c.req.MessageID, PortalID: c.req.PortalID, Caller: in.CallerID, MessageType: in.MessageType,
		Script: c.script(), Now: workflow.Now(ctx),
		Message: c.event(outcome.Pending, workflow.Now(ctx), wfID),
	}).Get(ctx, &p); err != nil {
		return false, err
	}
	c.prepared, c.settings = p, p.Settings
	if p.ErrorCode != "" {
		return false, c.notPlaced(ctx, p.ErrorCode, p.ErrorMessage)
	}
	return true, workflow.UpsertTypedSearchAttributes(ctx, CountryKey.ValueSet(c.country()), PhoneHashKey.ValueSet(p.Recipient.PhoneHash))
}

// country is the country whose rules apply: the number's region, else the action's country.
func (c *call) country() string {
	if c.prepared.Recipient.Region != "" {
		return c.prepared.Recipient.Region
	}
	return c.req.Inputs.Country
}

// sleepUntil holds the call on a durable timer until its window opens, visible in the Web UI
// (SmsWakeAt) and in the state query with the reason it waits.
func (c *call) sleepUntil(ctx workflow.Context, wake time.Time, reason string) error {
	d := wake.Sub(workflow.Now(ctx))
	if d <= 0 {
		return nil
	}
	c.state.WakeAt, c.state.HeldReason = &wake, reason
	if err := workflow.UpsertTypedSearchAttributes(ctx, WakeAtKey.ValueSet(wake)); err != nil {
		return err
	}
	if err := workflow.NewTimer(ctx, d).Get(ctx, nil); err != nil {
		return err
	}
	c.state.WakeAt, c.state.HeldReason = nil, ""
	return workflow.UpsertTypedSearchAttributes(ctx, WakeAtKey.ValueUnset())
}

// place checks what may have changed while the call waited and places it (a regular activity:
// its attempts are visible, and the placer never places a call twice). A closed window returns
// the call to the hold (held not nil); a refusal ends it NOT_SENT; an uncertain placement counts
// as sent, flagged, since the carrier's events by our reference still confirm it. It reports
// false when the call ended.
func (c *call) place(ctx workflow.Context) (held *heldBack, ok bool, err error) {
	p := c.prepared
	var res activities.PlaceCallResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, dispatchOptions), c.a.PlaceCall, activities.PlaceCallInput{
		MessageID: c.req.MessageID, PortalID: c.req.PortalID, From: p.Caller, To: p.Recipient.Phone,
		Country: c.country(), Timezones: p.Recipient.Timezones, MessageType: c.req.Inputs.MessageType, Script: p.Script,
	}).Get(ctx, &res); err != nil {
		return nil, false, c.notPlaced(ctx, outcome.CarrierUnavailable, "the carrier could not be reached: "+rootMessage(err))
	}
	if res.DeferUntil != nil {
		return &heldBack{until: *res.DeferUntil, reason: res.DeferReason}, true, nil
	}
	c.state.Carrier, c.state.CarrierCallID = res.Carrier, res.CarrierCallID
	if res.ErrorCode != "" && !res.Uncertain {
		c.state.ErrorCode, c.state.ErrorMessage = res.ErrorCode, res.ErrorMessage
		ev := c.event(outcome.VoiceNotSent, workflow.Now(ctx), "")
		ev.NumberInvalid = res.NumberInvalid
		ev.OptedOut = res.ErrorCode == outcome.OptedOut
		if res.Carrier != "" {
			ev.Detail = map[string]string{"carrier": res.Carrier}
		}
		return nil, false, c.publishEvent(ctx, ev, nil, true)
	}
	if res.Uncertain {
		c.state.ErrorCode, c.state.ErrorMessage = outcome.SendUncertain, res.ErrorMessage
	}
	return nil, true, c.apply(ctx, outcome.VoiceSent, nil, nil)
}

// units are the billed minutes of a call of seconds: rounded up, at least one once answered.
func units(seconds int, answered bool) int {
	u := int(math.Ceil(float64(seconds) / 60))
	if answered && u == 0 {
		u = 1
	}
	return u
}

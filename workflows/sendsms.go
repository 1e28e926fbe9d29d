package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
	"smsflow/outcome"
	"smsflow/render"
)

// SendSMSName is the registered name of the SMS lifecycle workflow.
const SendSMSName = "SendSMS"

// lifecycleChange is the workflow.GetVersion change id of the lifecycle's command sequence; each
// version below is kept for the runs that started on it.
const lifecycleChange = "lifecycle"

const (
	// versionFirst: one Publish local activity per status carries the HubSpot completion;
	// engagement waits for the delivery report; two timers bound the waits.
	versionFirst = workflow.DefaultVersion
	// versionGuarantees: the completion is its own regular activity, started first; replies and
	// unsubscribes apply at once; signals are deduplicated by event id; UNSUBSCRIBED stays; a
	// dispatch refused by a closed window goes back to the hold; a failure or a cancellation
	// ends NOT_SENT and completes the action; listening stops at a history cap.
	versionGuarantees workflow.Version = 1
	// versionCompact: fewer history events per message. The search attributes known before the
	// dispatch are set in one upsert (with the hold's wake time), and the wake time is unset with
	// the next status; the dispatch activity runs the pre-dispatch checks right before the carrier
	// call and publishes SENT itself; one timer follows the earliest deadline of the follow-up;
	// a delivery report that never comes ends the message NOT_DELIVERED DELIVERY_EXPIRED.
	versionCompact workflow.Version = 2
)

// SMSRequest is one HubSpot "Send SMS" action execution, validated by the API.
type SMSRequest struct {
	MessageID          string `json:"MessageID"`
	CallbackID         string `json:"CallbackID"` // empty for sends that complete no HubSpot action (CRM card)
	PortalID           int64  `json:"PortalID"`
	ActionDefinitionID string `json:"ActionDefinitionID"`
	HubSpotWorkflowID  string `json:"HubSpotWorkflowID"`
	ObjectType         string `json:"ObjectType"`
	ObjectID           string `json:"ObjectID"`
	// ObjectProperties are the record's values HubSpot sent with the action (objectRequestOptions:
	// the phone properties and the usual token properties), lowercase names.
	ObjectProperties map[string]string `json:"ObjectProperties"`
	Inputs           SMSInputs         `json:"Inputs"`
}

// SMSInputs are the action's input fields, typed.
type SMSInputs struct {
	PhoneProperty    string            `json:"PhoneProperty"`
	Country          string            `json:"Country"`
	Sender           string            `json:"Sender"`
	SendingUser      string            `json:"SendingUser"`
	MessageType      string            `json:"MessageType"` // marketing | transactional
	Message          string            `json:"Message"`
	AllowUnicode     bool              `json:"AllowUnicode"`
	NationalLanguage string            `json:"NationalLanguage"`
	MaxSegments      int               `json:"MaxSegments"`
	AddStop          bool              `json:"AddStop"`
	UnsubscribeURL   bool              `json:"UnsubscribeURL"`
	ShortenURLs      bool              `json:"ShortenURLs"`
	UTM              map[string]string `json:"UTM"`
	CampaignName     string            `json:"CampaignName"`
	SendAt           *time.Time        `json:"SendAt"`
	WaitFor          string            `json:"WaitFor"` // none | delivery | click | reply
	WaitHours        int               `json:"WaitHours"`
}

// SMSResult is the outcome the HubSpot action is completed with.
type SMSResult struct {
	Status       outcome.Status `json:"Status"`
	MessageID    string         `json:"MessageID"`
	CampaignName string         `json:"CampaignName"`
	Segments     int            `json:"Segments"`
	Encoding     string         `json:"Encoding"`
	ErrorCode    outcome.Code   `json:"ErrorCode"`
	ErrorMessage string         `json:"ErrorMessage"`
}

// Outputs are the action's output fields, as HubSpot takes them (strings).
func (r SMSResult) Outputs() map[string]string {
	return map[string]string{
		"sms_status":    string(r.Status),
		"message_id":    r.MessageID,
		"campaign_name": r.CampaignName,
		"segments":      strconv.Itoa(r.Segments),
		"encoding":      r.Encoding,
		"error_code":    string(r.ErrorCode),
		"error_message": r.ErrorMessage,
	}
}

// MessageState is what the state query answers: where the message is and why.
type MessageState struct {
	MessageID        string         `json:"MessageID"`
	Status           outcome.Status `json:"Status"`
	ErrorCode        outcome.Code   `json:"ErrorCode"`
	ErrorMessage     string         `json:"ErrorMessage"`
	WakeAt           *time.Time     `json:"WakeAt"` // set while held by a country window, send_at or a quota
	HeldReason       string         `json:"HeldReason"`
	Segments         int            `json:"Segments"`
	Encoding         string         `json:"Encoding"`
	Carrier          string         `json:"Carrier"`
	CarrierMessageID string         `json:"CarrierMessageID"`
	ActionCompleted  bool           `json:"ActionCompleted"`
	Clicks           int            `json:"Clicks"`
	Replies          int            `json:"Replies"`
	History          []StatusChange `json:"History"`
}

// StatusChange is one applied status, at workflow time.
type StatusChange struct {
	Status outcome.Status `json:"Status"`
	At     time.Time      `json:"At"`
}

// sms is one message's lifecycle state.
type sms struct {
	req       SMSRequest
	settings  activities.Settings
	recipient activities.Recipient
	rendered  activities.Rendered
	state     MessageState
	// held are engagement events (clicks, replies, unsubscribes) that came before the delivery
	// report: they are applied once the message is delivered, or when the delivery wait ends.
	held        []engagement
	deliveryEnd bool
	// seen are the event ids of the signals applied: a re-delivered event is applied once.
	from    string // the sender Prepare settled on (the portal's default when the action names none)
	seen    map[string]bool
	version workflow.Version
	ending  bool // the lifecycle failed or was cancelled: the last steps run on short options
	// attrs are search attribute updates not yet upserted: from versionCompact they ride with the
	// next upsert the run makes anyway. unsetWake is the wake time's removal, which waits for the
	// next status rather than costing an upsert of its own.
	attrs     []temporal.SearchAttributeUpdate
	unsetWake bool
	a         *activities.Activities
}

// SendSMS is the lifecycle of one SMS: resolve the recipient and render the text, hold until the
// message may go, dispatch it, then follow its outcome (reports, clicks, replies) and complete
// the HubSpot action.
func SendSMS(ctx workflow.Context, req SMSRequest) (SMSResult, error) {
	s := &sms{req: req, state: MessageState{MessageID: req.MessageID, Status: outcome.Pending}, seen: map[string]bool{}}
	s.version = workflow.GetVersion(ctx, lifecycleChange, versionFirst, versionCompact)
	if err := s.setup(ctx); err != nil {
		return SMSResult{}, err
	}
	res, err := s.run(ctx)
	if err != nil && s.version >= versionGuarantees {
		return s.endAfterFailure(ctx, err)
	}
	return res, err
}

// setup answers the state query and sets the search attributes known from the request.
func (s *sms) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (MessageState, error) { return s.state, nil }); err != nil {
		return err
	}
	s.attrs = []temporal.SearchAttributeUpdate{
		PortalIDKey.ValueSet(strconv.FormatInt(s.req.PortalID, 10)),
		RecordIDKey.ValueSet(s.req.ObjectType + ":" + s.req.ObjectID),
		ChannelKey.ValueSet(string(outcome.SMS)),
		CampaignKey.ValueSet(s.req.Inputs.CampaignName),
		StatusKey.ValueSet(string(outcome.Pending)),
	}
	if s.version >= versionCompact {
		return nil // set with what Prepare finds
	}
	return s.upsert(ctx)
}

// upsert sets the search attributes given with those waiting (s.attrs, and the wake time's
// removal).
func (s *sms) upsert(ctx workflow.Context, updates ...temporal.SearchAttributeUpdate) error {
	var all []temporal.SearchAttributeUpdate
	if s.unsetWake {
		all = append(all, WakeAtKey.ValueUnset()) // first: a new wake time given with it wins
	}
	all = append(append(all, s.attrs...), updates...)
	s.attrs, s.unsetWake = nil, false
	return workflow.UpsertTypedSearchAttributes(ctx, all...)
}

// upsertWaiting sets the search attributes waiting, except a wake time's removal alone: an
// operator filtering the runs of a portal must find a run that waits for its dispatch.
func (s *sms) upsertWaiting(ctx workflow.Context) error {
	if len(s.attrs) == 0 {
		return nil
	}
	return s.upsert(ctx)
}

// run is the message's whole life; each step ends it early when the message cannot go on.
func (s *sms) run(ctx workflow.Context) (SMSResult, error) {
	if ok, err := s.resolveAndRender(ctx); !ok || err != nil {
		return s.result(), err
	}
	wake, reason := s.rendered.SendAt, s.rendered.HeldReason
	for {
		if ok, err := s.holdUntilAllowed(ctx, wake, reason); !ok || err != nil {
			return s.result(), err
		}
		if err := s.upsertWaiting(ctx); err != nil {
			return s.result(), err
		}
		held, ok, err := s.dispatch(ctx)
		if !ok || err != nil {
			return s.result(), err
		}
		if held == nil {
			break
		}
		wake, reason = held.until, held.reason // the window closed before the carrier call
	}
	if err := s.followOutcome(ctx); err != nil {
		return SMSResult{}, err
	}
	return s.result(), nil
}

// resolveAndRender reads the portal's settings, finds the recipient's number and renders the
// text (one recorded local activity), then tags the run with the country and the phone's hash.
// It reports false when the message ended NOT_SENT.
func (s *sms) resolveAndRender(ctx workflow.Context) (bool, error) {
	in := s.req.Inputs
	wfID := workflow.GetInfo(ctx).WorkflowExecution.ID
	var p activities.Prepared
	if err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localOptions), s.a.Prepare, activities.PrepareInput{
		Recipient: activities.RecipientInput{
			PortalID: s.req.PortalID, ObjectType: s.req.ObjectType, ObjectID: s.req.ObjectID,
			PhoneProperty: in.PhoneProperty, Country: in.Country, Channel: string(outcome.SMS), MessageType: in.MessageType,
			Known: s.req.ObjectProperties, Tokens: render.PropertyNames(in.Message),
		},
		Render: activities.RenderInput{
			MessageID: s.req.MessageID, PortalID: s.req.PortalID, Text: in.Message, MessageType: in.MessageType,
			AllowUnicode: in.AllowUnicode, NationalLanguage: in.NationalLanguage, MaxSegments: in.MaxSegments,
			AddStop: in.AddStop, UnsubscribeURL: in.UnsubscribeURL, ShortenURLs: in.ShortenURLs, UTM: in.UTM, Now: workflow.Now(ctx), SendAt: in.SendAt,
		},
		Message: s.event(outcome.Pending, workflow.Now(ctx), wfID),
	}).Get(ctx, &p); err != nil {
		return false, err
	}
	s.settings, s.recipient, s.rendered = p.Settings, p.Recipient, p.Rendered
	if s.version >= versionGuarantees {
		s.from = p.Sender
	}
	s.state.Segments, s.state.Encoding = s.rendered.Segments, s.rendered.Encoding
	if s.recipient.ErrorCode != "" {
		return false, s.notSent(ctx, s.recipient.ErrorCode, s.recipient.ErrorMessage)
	}
	if s.rendered.ErrorCode != "" {
		return false, s.notSent(ctx, s.rendered.ErrorCode, s.rendered.ErrorMessage)
	}
	s.attrs = append(s.attrs, CountryKey.ValueSet(s.country()), PhoneHashKey.ValueSet(s.recipient.PhoneHash))
	if s.version >= versionCompact {
		return true, nil // set with the hold's wake time, or right before the dispatch
	}
	return true, s.upsert(ctx)
}

// country is the country whose rules apply: the number's region, else the action's country.
func (s *sms) country() string {
	if s.recipient.Region != "" {
		return s.recipient.Region
	}
	return s.req.Inputs.Country
}

// sender is what the message goes out from: the one Prepare settled on, else the action's.
func (s *sms) sender() string {
	if s.from != "" {
		return s.from
	}
	return s.req.Inputs.Sender
}

// Package workflows holds the durable message lifecycles. Workflow code is deterministic: all I/O,
// clocks and rule tables are reached through activities, whose results the history records.
package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"smsflow/activities"
)

// SendSMSName is the registered name of the SMS lifecycle workflow.
const SendSMSName = "SendSMS"

// SMS statuses (SPEC §3).
const (
	StatusPending      = "PENDING" // accepted, not yet dispatched (held, or being prepared)
	StatusSent         = "SMS_SENT"
	StatusNotSent      = "SMS_NOT_SENT"
	StatusDelivered    = "SMS_DELIVERED"
	StatusNotDelivered = "SMS_NOT_DELIVERED"
	StatusClicked      = "SMS_CLICKED"
	StatusUnsubscribed = "SMS_UNSUBSCRIBED"
	StatusResponse     = "SMS_RESPONSE"
)

// SMSRequest is one HubSpot "Send SMS" action execution, validated by the API.
type SMSRequest struct {
	MessageID          string
	CallbackID         string
	PortalID           int64
	ActionDefinitionID string
	HubSpotWorkflowID  string
	ObjectType         string
	ObjectID           string
	Inputs             SMSInputs
}

// SMSInputs are the action's input fields (SPEC §2.1), typed.
type SMSInputs struct {
	PhoneProperty  string
	Country        string
	Sender         string
	MessageType    string // marketing | transactional
	Message        string
	AllowUnicode   bool
	AddStop        bool
	UnsubscribeURL bool
	ShortenURLs    bool
	UTM            map[string]string
	CampaignName   string
	SendAt         *time.Time
	WaitFor        string // none | delivery | click | reply
	WaitHours      int
}

// SMSResult is the outcome the workflow completes the HubSpot action with.
type SMSResult struct {
	Status       string
	MessageID    string
	CampaignName string
	Segments     int
	Encoding     string
	ErrorCode    string
	ErrorMessage string
}

var storeOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// SendSMS is the lifecycle of one SMS.
func SendSMS(ctx workflow.Context, req SMSRequest) (SMSResult, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		PortalIDKey.ValueSet(strconv.FormatInt(req.PortalID, 10)),
		RecordIDKey.ValueSet(req.ObjectType+":"+req.ObjectID),
		ChannelKey.ValueSet("sms"),
		StatusKey.ValueSet(StatusPending),
	); err != nil {
		return SMSResult{}, err
	}
	var a *activities.Activities
	rec := activities.MessageRecord{
		ID: req.MessageID, PortalID: req.PortalID, ObjectType: req.ObjectType, ObjectID: req.ObjectID,
		Channel: "sms", Country: req.Inputs.Country, Sender: req.Inputs.Sender, Campaign: req.Inputs.CampaignName,
		MessageType: req.Inputs.MessageType, Text: req.Inputs.Message, Status: StatusPending,
		CallbackID: req.CallbackID, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
	}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, storeOptions), a.SaveMessage, rec).Get(ctx, nil); err != nil {
		return SMSResult{}, err
	}
	return SMSResult{Status: StatusPending, MessageID: req.MessageID, CampaignName: req.Inputs.CampaignName}, nil
}

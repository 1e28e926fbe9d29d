// Package workflows holds the durable message lifecycles. Workflow code is deterministic: all I/O,
// clocks and rule tables are reached through activities, whose results the history records.
package workflows

import (
	"strconv"
	"time"
)

// SendSMSName is the registered name of the SMS lifecycle workflow.
const SendSMSName = "SendSMS"

// SMS statuses (SPEC §3). PENDING is ours: accepted, not yet dispatched (being prepared or held).
const (
	StatusPending      = "PENDING"
	StatusSent         = "SMS_SENT"
	StatusNotSent      = "SMS_NOT_SENT"
	StatusDelivered    = "SMS_DELIVERED"
	StatusNotDelivered = "SMS_NOT_DELIVERED"
	StatusClicked      = "SMS_CLICKED"
	StatusUnsubscribed = "SMS_UNSUBSCRIBED"
	StatusResponse     = "SMS_RESPONSE"
)

// Error codes the workflow itself sets (others come from phone, encoding, compliance, carriers).
const (
	CodeOptedOut            = "OPTED_OUT"
	CodeConsentMissing      = "CONSENT_MISSING"
	CodeQuotaExceeded       = "QUOTA_EXCEEDED"
	CodePortalDisconnected  = "PORTAL_DISCONNECTED"
	CodeSendUncertain       = "SEND_UNCERTAIN"
	CodeDeliveryUnconfirmed = "DELIVERY_UNCONFIRMED"
)

// SMSRequest is one HubSpot "Send SMS" action execution, validated by the API.
type SMSRequest struct {
	MessageID          string
	CallbackID         string // empty for sends that complete no HubSpot action (CRM card)
	PortalID           int64
	ActionDefinitionID string
	HubSpotWorkflowID  string
	ObjectType         string
	ObjectID           string
	// ObjectProperties are the record's values HubSpot sent with the action (objectRequestOptions:
	// the phone properties and the usual token properties), lowercase names.
	ObjectProperties map[string]string
	Inputs           SMSInputs
}

// SMSInputs are the action's input fields (SPEC §2.1), typed.
type SMSInputs struct {
	PhoneProperty    string
	Country          string
	Sender           string
	SendingUser      string
	MessageType      string // marketing | transactional
	Message          string
	AllowUnicode     bool
	NationalLanguage string
	MaxSegments      int
	AddStop          bool
	UnsubscribeURL   bool
	ShortenURLs      bool
	UTM              map[string]string
	CampaignName     string
	SendAt           *time.Time
	WaitFor          string // none | delivery | click | reply
	WaitHours        int
}

// Wait-for values.
const (
	WaitNone     = "none"
	WaitDelivery = "delivery"
	WaitClick    = "click"
	WaitReply    = "reply"
)

// SMSResult is the outcome the HubSpot action is completed with (SPEC §2.1 outputs).
type SMSResult struct {
	Status       string
	MessageID    string
	CampaignName string
	Segments     int
	Encoding     string
	ErrorCode    string
	ErrorMessage string
}

// Outputs are the action's output fields, as HubSpot takes them (strings).
func (r SMSResult) Outputs() map[string]string {
	return map[string]string{
		"sms_status":    r.Status,
		"message_id":    r.MessageID,
		"campaign_name": r.CampaignName,
		"segments":      strconv.Itoa(r.Segments),
		"encoding":      r.Encoding,
		"error_code":    r.ErrorCode,
		"error_message": r.ErrorMessage,
	}
}

// MessageState is what the state query answers: where the message is and why.
type MessageState struct {
	MessageID        string
	Status           string
	ErrorCode        string
	ErrorMessage     string
	WakeAt           *time.Time // set while held by a country window, send_at or a quota
	HeldReason       string
	Segments         int
	Encoding         string
	Carrier          string
	CarrierMessageID string
	ActionCompleted  bool
	Clicks           int
	Replies          int
	History          []StatusChange
}

// StatusChange is one applied status, at workflow time.
type StatusChange struct {
	Status string
	At     time.Time
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

package outcome

// Code is an error code: the error_code output a HubSpot user reads and branches on, with a
// readable message beside it. Codes of the rule packages (phone, encoding, compliance) keep their
// own constants there and pass through as they are.
type Code string

// Codes of the lifecycle: why a message was not sent or not delivered.
const (
	OptedOut              Code = "OPTED_OUT"
	ConsentMissing        Code = "CONSENT_MISSING"
	QuotaExceeded         Code = "QUOTA_EXCEEDED"
	PortalDisconnected    Code = "PORTAL_DISCONNECTED"
	NoPhone               Code = "NO_PHONE"
	InvalidMessageType    Code = "INVALID_MESSAGE_TYPE"
	ComplianceError       Code = "COMPLIANCE_ERROR"
	CarrierUnavailable    Code = "CARRIER_UNAVAILABLE"
	CarrierRejected       Code = "CARRIER_REJECTED"
	NumberNotAssigned     Code = "NUMBER_NOT_ASSIGNED"
	Undeliverable         Code = "UNDELIVERABLE"
	NotDeliveredTemporary Code = "NOT_DELIVERED_TEMPORARY"
	SendUncertain         Code = "SEND_UNCERTAIN"
	DeliveryUnconfirmed   Code = "DELIVERY_UNCONFIRMED"
	// DeliveryExpired: no final delivery report came within the report's time to live; the
	// message counts as not delivered (a temporary failure).
	DeliveryExpired     Code = "DELIVERY_EXPIRED"
	ChannelNotAvailable Code = "CHANNEL_NOT_AVAILABLE"
	// LifecycleFailed: the lifecycle itself failed (a step out of retries); the message did not go.
	LifecycleFailed Code = "LIFECYCLE_FAILED"
	// Cancelled: an operator cancelled the message's workflow.
	Cancelled Code = "CANCELLED"
	// SenderNotAllowed: the action's sender is not one of the portal's senders.
	SenderNotAllowed Code = "SENDER_NOT_ALLOWED"
	// Erased: the message's number was erased on request (privacy) while it ran.
	Erased Code = "ERASED"
	// FrequencyCapped: the recipient already got as many marketing messages from the portal as
	// its frequency cap allows in a period (e.g. 3 in 24 hours).
	FrequencyCapped Code = "FREQUENCY_CAPPED"
)

// Codes of voice calls: why a call was not placed or not answered.
const (
	// VoiceContactOnly: calls go to contacts only (the action ran on another object type).
	VoiceContactOnly Code = "VOICE_CONTACT_ONLY"
	// NoCallerID: the action names no caller id and the portal has no default caller.
	NoCallerID Code = "NO_CALLER_ID"
	// AudioURLInvalid: the audio file URL is not https, or does not serve audio.
	AudioURLInvalid Code = "AUDIO_URL_INVALID"
	// AudioURLUnreachable: the audio file could not be fetched before the call.
	AudioURLUnreachable Code = "AUDIO_URL_UNREACHABLE"
	// CallBusy, CallNoAnswer, CallFailed, CallCanceled: how a placed call ended unanswered.
	CallBusy     Code = "CALL_BUSY"
	CallNoAnswer Code = "CALL_NO_ANSWER"
	CallFailed   Code = "CALL_FAILED"
	CallCanceled Code = "CALL_CANCELED"
	// CallUnconfirmed: the carrier reported no end of the call in time.
	CallUnconfirmed Code = "CALL_UNCONFIRMED"
	// ChildSMSFailed: the SMS a key asked for could not be started.
	ChildSMSFailed Code = "CHILD_SMS_FAILED"
)

// Codes of a voice or interactive action execution the API refuses.
const (
	InvalidCallerID  Code = "INVALID_CALLER_ID"
	MissingSpeech    Code = "MISSING_SPEECH"
	InvalidAudioURL  Code = "INVALID_AUDIO_URL"
	InvalidLanguage  Code = "INVALID_LANGUAGE"
	InvalidKeyAction Code = "INVALID_KEY_ACTION"
	InvalidRepeats   Code = "INVALID_REPEATS"
)

// voiceMessages are the readable messages of the voice codes.
var voiceMessages = map[Code]string{
	VoiceContactOnly:    "Voice calls go to contacts only: use this action in a contact-based workflow.",
	NoCallerID:          "No caller id: name one in the action, or set the account's default caller.",
	AudioURLInvalid:     "The audio file URL must be https and serve an audio file.",
	AudioURLUnreachable: "The audio file could not be fetched before the call.",
	CallBusy:            "The line was busy.",
	CallNoAnswer:        "Nobody answered the call.",
	CallFailed:          "The call could not be connected.",
	CallCanceled:        "The call was cancelled before it was answered.",
	CallUnconfirmed:     "The carrier did not report the end of the call in time.",
	ChildSMSFailed:      "The SMS asked for by the key pressed could not be sent.",
}

// Message is the readable message of a voice code; empty for codes whose message is written
// where they arise.
func (c Code) Message() string { return voiceMessages[c] }

// Codes of an action execution the API refuses before any workflow starts.
const (
	InvalidRequest       Code = "INVALID_REQUEST"
	RequestTooLarge      Code = "REQUEST_TOO_LARGE"
	InvalidPhoneProperty Code = "INVALID_PHONE_PROPERTY"
	InvalidCountry       Code = "INVALID_COUNTRY"
	InvalidSender        Code = "INVALID_SENDER"
	MissingMessage       Code = "MISSING_MESSAGE"
	InvalidBoolean       Code = "INVALID_BOOLEAN"
	InvalidSendAt        Code = "INVALID_SEND_AT"
	InvalidWaitFor       Code = "INVALID_WAIT_FOR"
	InvalidWaitHours     Code = "INVALID_WAIT_HOURS"
	// TemplateNotFound: the action names a template the portal does not have (or deleted).
	TemplateNotFound Code = "TEMPLATE_NOT_FOUND"
	// OutcomeNotRecorded answers an execution repeated after its message ended without a trace.
	OutcomeNotRecorded Code = "OUTCOME_NOT_RECORDED"
)

// PortalDisconnectedMessage is the readable message of PortalDisconnected.
const PortalDisconnectedMessage = "the HubSpot portal disconnected the app; reconnect it to send"

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

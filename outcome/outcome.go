// Package outcome is the vocabulary every layer shares about a message: its statuses, the error
// codes a HubSpot user reads in error_code, the kinds of carrier report and the channels. It
// imports nothing, so workflows, activities, carriers and the API can all use it.
package outcome

// Channel is how a message reaches the recipient.
type Channel string

// Channels.
const (
	SMS   Channel = "sms"
	Voice Channel = "voice"
	IVR   Channel = "ivr"
)

// Status is where a message stands, as HubSpot's workflow branches and the message log see it.
type Status string

// SMS statuses. Pending is ours: accepted, not yet dispatched (being prepared or held).
const (
	Pending         Status = "PENDING"
	SMSSent         Status = "SMS_SENT"
	SMSNotSent      Status = "SMS_NOT_SENT"
	SMSDelivered    Status = "SMS_DELIVERED"
	SMSNotDelivered Status = "SMS_NOT_DELIVERED"
	SMSClicked      Status = "SMS_CLICKED"
	SMSUnsubscribed Status = "SMS_UNSUBSCRIBED"
	SMSResponse     Status = "SMS_RESPONSE"
)

// SMSStatuses are the statuses a HubSpot workflow can branch on, in lifecycle order.
var SMSStatuses = []Status{SMSSent, SMSNotSent, SMSDelivered, SMSNotDelivered, SMSClicked, SMSUnsubscribed, SMSResponse}

// Voice statuses, of voice messages and interactive calls. A call is SENT once the carrier took
// it, DELIVERED when answered (by a person or a machine), NOT_DELIVERED when busy, unanswered or
// failed; KEY_PRESSED and UNSUBSCRIBED follow a delivered interactive call.
const (
	VoiceSent         Status = "VOICE_SENT"
	VoiceNotSent      Status = "VOICE_NOT_SENT"
	VoiceDelivered    Status = "VOICE_DELIVERED"
	VoiceNotDelivered Status = "VOICE_NOT_DELIVERED"
	VoiceKeyPressed   Status = "VOICE_KEY_PRESSED"
	VoiceUnsubscribed Status = "VOICE_UNSUBSCRIBED"
)

// VoiceStatuses are the voice statuses a HubSpot workflow can branch on, in lifecycle order.
var VoiceStatuses = []Status{VoiceSent, VoiceNotSent, VoiceDelivered, VoiceNotDelivered, VoiceKeyPressed, VoiceUnsubscribed}

// Rank orders the statuses so that a report never moves a message back: pending, then sent,
// then a delivery outcome, then engagement. An unknown status ranks below all.
func (s Status) Rank() int {
	switch s {
	case Pending:
		return 0
	case SMSSent, VoiceSent:
		return 1
	case SMSDelivered, SMSNotDelivered, VoiceDelivered, VoiceNotDelivered:
		return 2
	case SMSClicked, SMSResponse, SMSUnsubscribed, VoiceKeyPressed, VoiceUnsubscribed:
		return 3
	}
	return -1
}

// Failed reports whether the status ends the message without it reaching the recipient.
func (s Status) Failed() bool {
	return s == SMSNotSent || s == SMSNotDelivered || s == VoiceNotSent || s == VoiceNotDelivered
}

// NotSent reports whether the status ends the message before any carrier took it.
func (s Status) NotSent() bool { return s == SMSNotSent || s == VoiceNotSent }

// Report is the kind of a carrier's delivery report, normalised across carriers.
type Report string

// Report kinds.
const (
	ReportQueued      Report = "queued"
	ReportSent        Report = "sent"
	ReportDelivered   Report = "delivered"
	ReportUndelivered Report = "undelivered" // the carrier gave up: see the report's permanence and code
	ReportFailed      Report = "failed"      // never left the carrier
	ReportUnknown     Report = "unknown"
)

// Final reports whether the report ends the delivery wait (delivered or not).
func (r Report) Final() bool {
	return r == ReportDelivered || r == ReportUndelivered || r == ReportFailed
}

package activities

import "time"

// The inputs and outputs of the lifecycle activities. A result that is a business outcome (an
// opted-out number, a message too long, a carrier refusing the number) comes back in ErrorCode /
// ErrorMessage, not as an error: errors are for what a retry may fix.

// RecipientInput names the record whose phone the message goes to.
type RecipientInput struct {
	PortalID      int64
	ObjectType    string // contact, company, deal, ticket, …
	ObjectID      string
	PhoneProperty string // empty: mobilephone, then phone
	Country       string
	Channel       string
	MessageType   string
	// Known are record properties HubSpot sent with the action; Tokens the ones the text uses.
	// When Known holds the phone and every token, the record is not read again.
	Known  map[string]string
	Tokens []string
}

// Recipient is the resolved recipient.
type Recipient struct {
	Phone      string // E.164
	PhoneHash  string // for the search attribute; never the number itself
	Region     string // the number's region (compliance follows it)
	Timezones  []string
	ObjectType string // the record the phone came from (a deal's contact, say)
	ObjectID   string
	// Tokens are the values personalization tokens may use, by lowercase property name.
	Tokens       map[string]string
	ErrorCode    string
	ErrorMessage string
}

// RenderInput is what Render needs to turn the user's text into what is sent.
type RenderInput struct {
	MessageID        string
	PortalID         int64
	Text             string
	Tokens           map[string]string
	Country          string // rules country: the number's region
	Timezones        []string
	MessageType      string
	AllowUnicode     bool
	NationalLanguage string
	MaxSegments      int
	AddStop          bool
	ShortenURLs      bool
	UTM              map[string]string
	Now              time.Time  // workflow time: the instant the send time is computed from
	SendAt           *time.Time // the user's scheduled time
}

// Violation is a content rule the text breaks.
type Violation struct {
	Code, Action, Detail string
}

// Rendered is the text as it will be sent and when it may go.
type Rendered struct {
	Text             string
	Encoding         string // GSM7 | UCS2
	NationalLanguage string
	Segments         int
	Characters       int
	SendAt           time.Time
	Held             bool
	HeldReason       string
	RulesVersion     string
	Violations       []Violation
	ErrorCode        string
	ErrorMessage     string
}

// DispatchCheckInput is checked right before dispatch.
type DispatchCheckInput struct {
	MessageID   string
	PortalID    int64
	Channel     string
	Phone       string
	Country     string
	MessageType string
	ObjectType  string
	ObjectID    string
	Sender      string
	SendingUser string
	Now         time.Time
}

// DispatchCheck says whether the message may go now.
type DispatchCheck struct {
	DeferUntil   *time.Time // quota reached with "defer": try again then
	DeferReason  string
	ErrorCode    string
	ErrorMessage string
}

// DispatchInput is one send.
type DispatchInput struct {
	MessageID string
	PortalID  int64
	From      string
	To        string
	Text      string
	Segments  int
	Encoding  string
}

// DispatchResult is the carrier's answer.
type DispatchResult struct {
	Carrier          string
	CarrierMessageID string
	Uncertain        bool // the carrier may have it; we could not tell and did not resend
	ErrorCode        string
	ErrorMessage     string
	NumberInvalid    bool
	OptedOut         bool
}

// StatusEvent is one status change, written to the message log and to HubSpot.
type StatusEvent struct {
	MessageID        string
	PortalID         int64
	ObjectType       string
	ObjectID         string
	Channel          string
	Phone            string
	Country          string
	Sender           string
	SendingUser      string
	Campaign         string
	MessageType      string
	Text             string
	Encoding         string
	Segments         int
	Characters       int
	Status           string
	ErrorCode        string
	ErrorMessage     string
	Carrier          string
	CarrierMessageID string
	CallbackID       string
	WorkflowID       string
	SendAt           *time.Time
	At               time.Time
	// Detail is the event's own data (click URL, reply text, carrier code).
	Detail map[string]string
	// TargetType / TargetID are the HubSpot record to write to when it is not the message's own
	// (a deal's message is written on the contact whose phone it went to).
	TargetType string
	TargetID   string
	// OptedOut / NumberInvalid set the record's flags.
	OptedOut      bool
	NumberInvalid bool
}

// CompleteInput completes a blocked HubSpot action.
type CompleteInput struct {
	PortalID   int64
	CallbackID string
	Outputs    map[string]string
}

// OptOutInput puts a number on (or, with OptIn, takes it off) the suppression list.
type OptOutInput struct {
	PortalID  int64
	Channel   string
	Phone     string
	Reason    string
	MessageID string
	OptIn     bool
}

// PrepareInput is everything Prepare needs: the request's record and inputs.
type PrepareInput struct {
	Recipient RecipientInput
	Render    RenderInput // Tokens, Country and Timezones are filled by Prepare
	// Message is the message log row to create, status PENDING (text and counts filled by Prepare).
	Message StatusEvent
}

// Prepared is the recorded outcome of Prepare.
type Prepared struct {
	Settings  Settings
	Recipient Recipient
	Rendered  Rendered
}

// PublishInput is one step of the lifecycle made visible: a status change (message log, HubSpot
// timeline and properties), an opt-out or opt-in, the completion of the HubSpot action — any of
// them, in that order, in one activity so the history stays small.
type PublishInput struct {
	Event    *StatusEvent
	OptOut   *OptOutInput
	Complete *CompleteInput
}

// Settings are a portal's lifecycle settings, read once per message so the history records them.
type Settings struct {
	DeliveryTimeout time.Duration // how long to wait for a delivery report
	ListenAfter     time.Duration // how long to keep listening after the action is completed
	DefaultWait     time.Duration // wait_hours when the action gives none
	MaxSegments     int
}

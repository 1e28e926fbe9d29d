// Package voice holds what a voice call is made of, shared by the call's workflow, the carriers'
// voice adapters and the webhooks that serve a call's script: the script (what the call says and
// how it answers keys), the call to place, the carrier's receipt, and the events a call sends back.
//
// A call's script is settled before the call is placed and stored with the call: the carrier's
// webhooks answer from it (TwiML, NCCO) at once, whether or not a worker is running, and every key
// pressed reaches the call's workflow as a CallEvent signal, through the same outbox as SMS
// reports. The workflow does what a key asks beyond the call itself (send an SMS, unsubscribe) and
// records the outcome.
package voice

import (
	"context"
	"time"
)

// Speech is one thing a call says: text to speech, or an audio file.
type Speech struct {
	Text     string `json:"Text"`
	Language string `json:"Language"` // BCP 47, e.g. fr-FR
	Voice    string `json:"Voice"`    // the carrier's voice name; empty: the carrier's default for the language
	// AudioURL, when set (https), is played instead of Text.
	AudioURL string `json:"AudioURL"`
}

// Empty reports whether the speech says nothing.
func (s Speech) Empty() bool { return s.Text == "" && s.AudioURL == "" }

// Key actions of an interactive call.
const (
	ActionPlay        = "play"        // play Speech, then hang up
	ActionTransfer    = "transfer"    // say Speech (an optional announcement), then connect TransferTo
	ActionSMS         = "sms"         // say Speech (optional), hang up; the workflow sends the key's SMS
	ActionUnsubscribe = "unsubscribe" // say Speech (optional), hang up; the workflow unsubscribes the number from voice
	// ActionWrongKey is what a CallEvent reports for a key the menu does not have.
	ActionWrongKey = "wrong-key"
)

// KeyAction is what one key of the menu does.
type KeyAction struct {
	Key        string `json:"Key"`    // "0".."9"
	Action     string `json:"Action"` // one of the Action constants
	Speech     Speech `json:"Speech"`
	TransferTo string `json:"TransferTo"` // E.164, for ActionTransfer
}

// Script is a whole call: the opening message, the menu (none for a plain voice message), what a
// wrong key hears, and how many times the menu is offered again after a wrong key or silence.
type Script struct {
	CallID   string      `json:"CallID"` // the message id
	Opening  Speech      `json:"Opening"`
	Keys     []KeyAction `json:"Keys"`
	WrongKey Speech      `json:"WrongKey"`
	Repeats  int         `json:"Repeats"` // 0..3
}

// Interactive reports whether the call offers a menu.
func (s Script) Interactive() bool { return len(s.Keys) > 0 }

// Action is what key does; false for a key the menu does not have.
func (s Script) Action(key string) (KeyAction, bool) {
	for _, k := range s.Keys {
		if k.Key == key {
			return k, true
		}
	}
	return KeyAction{}, false
}

// Call is one call to place.
type Call struct {
	// ID is our message id: the idempotency key of the call (a call is never placed twice).
	ID       string
	PortalID int64
	From     string // caller id, E.164
	To       string // E.164
	// MachineDetection asks the carrier to say whether a person or a machine answered.
	MachineDetection bool
	// RingSeconds is how long the call rings before it counts as no answer; 0: the carrier's default.
	RingSeconds int
}

// Receipt is the carrier's acknowledgement of a placed call.
type Receipt struct {
	Carrier       string
	CarrierCallID string
	PlacedAt      time.Time
}

// Placer places calls. The carrier fetches the call's script from our webhooks, so the script
// must be stored (under the call's ID) before PlaceCall.
type Placer interface {
	PlaceCall(ctx context.Context, c Call) (Receipt, error)
}

// Call statuses, as carriers report them (Twilio's names; adapters map theirs onto these).
const (
	StatusInitiated = "initiated"
	StatusRinging   = "ringing"
	StatusAnswered  = "answered"
	StatusCompleted = "completed" // the call ended after being answered
	StatusBusy      = "busy"
	StatusNoAnswer  = "no-answer"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Final reports whether status ends the call.
func Final(status string) bool {
	switch status {
	case StatusCompleted, StatusBusy, StatusNoAnswer, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// Who answered, when machine detection is on.
const (
	AnsweredByHuman   = "human"
	AnsweredByMachine = "machine"
	AnsweredByUnknown = "unknown"
)

// Kinds of CallEvent.
const (
	EventStatus = "status" // the call's status changed
	EventKey    = "key"    // a key was pressed
)

// SignalCallEvent is the name of the signal carrying a CallEvent to the call's workflow.
const SignalCallEvent = "call-event"

// CallEvent is one thing that happened on a call, from the carrier's webhooks.
type CallEvent struct {
	// EventID identifies the event at the carrier (e.g. call id + status, or call id + key
	// sequence): a re-delivered event is applied once.
	EventID string `json:"EventID"`
	Kind    string `json:"Kind"` // EventStatus | EventKey
	// Status is the call's status (for EventStatus).
	Status     string `json:"Status"`
	AnsweredBy string `json:"AnsweredBy"` // human | machine | unknown, when known
	// DurationSeconds is the call's duration, on the final status.
	DurationSeconds int    `json:"DurationSeconds"`
	Code            string `json:"Code"` // the carrier's error or SIP code of a failed call, when given
	// Key is the key pressed and Action what the script answered (an Action constant, or
	// ActionWrongKey), for EventKey.
	Key    string    `json:"Key"`
	Action string    `json:"Action"`
	At     time.Time `json:"At"`
}

package vonage

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"smsflow/voice"
)

// Links are where a rendered call points back to our API.
type Links struct {
	// Key is the input action's eventUrl of the menu of round: Vonage posts the key pressed, or
	// the time-out, there.
	Key func(round int) string
	// CallerID is the number a transfer shows (a Vonage number of the account); empty: none.
	CallerID string
}

// InputTimeout is how long a menu waits for a key, in seconds.
const InputTimeout = 5

// NCCO renders steps as a Vonage call control object: talk (language, style when the voice is a
// style number) or stream for speech, a menu as its speech with bargeIn then an input action
// (dtmf, maxDigits 1) whose eventUrl gets the key, connect to a phone endpoint for a transfer.
// Hanging up is the end of the NCCO.
func NCCO(steps []voice.Step, l Links) []byte {
	actions := []map[string]any{}
	for _, st := range steps {
		switch st.Kind {
		case voice.StepSay:
			if a := speechAction(st.Speech, false); a != nil {
				actions = append(actions, a)
			}
		case voice.StepMenu:
			if a := speechAction(st.Speech, true); a != nil {
				actions = append(actions, a)
			}
			actions = append(actions, map[string]any{"action": "input", "type": []string{"dtmf"},
				"dtmf":     map[string]any{"maxDigits": 1, "timeOut": InputTimeout, "submitOnHash": false},
				"eventUrl": []string{l.Key(st.Round)}, "eventMethod": "POST"})
		case voice.StepDial:
			a := map[string]any{"action": "connect", "endpoint": []map[string]string{{"type": "phone", "number": strings.TrimPrefix(st.TransferTo, "+")}}}
			if l.CallerID != "" {
				a["from"] = strings.TrimPrefix(l.CallerID, "+")
			}
			actions = append(actions, a)
		}
	}
	b, _ := json.Marshal(actions)
	return b
}

func speechAction(s voice.Speech, bargeIn bool) map[string]any {
	var a map[string]any
	switch {
	case s.AudioURL != "":
		a = map[string]any{"action": "stream", "streamUrl": []string{s.AudioURL}}
	case s.Text != "":
		a = map[string]any{"action": "talk", "text": s.Text}
		if s.Language != "" {
			a["language"] = s.Language
		}
		if style, err := strconv.Atoi(s.Voice); err == nil {
			a["style"] = style
		}
	default:
		return nil
	}
	if bargeIn {
		a["bargeIn"] = true
	}
	return a
}

// MapCallStatus maps a Voice API event status onto voice.Status*, with who answered when the
// event says; "" for an event that is no status.
func MapCallStatus(s string) (status, answeredBy string) {
	switch strings.ToLower(s) {
	case "started":
		return voice.StatusInitiated, ""
	case "ringing":
		return voice.StatusRinging, ""
	case "answered":
		return voice.StatusAnswered, ""
	case "human":
		return voice.StatusAnswered, voice.AnsweredByHuman
	case "machine":
		return voice.StatusAnswered, voice.AnsweredByMachine
	case "completed":
		return voice.StatusCompleted, ""
	case "busy":
		return voice.StatusBusy, ""
	case "timeout", "unanswered":
		return voice.StatusNoAnswer, ""
	case "failed", "rejected":
		return voice.StatusFailed, ""
	case "cancelled":
		return voice.StatusCanceled, ""
	}
	return "", ""
}

// ParseCallEvent reads an event webhook (its JSON flattened into params): the call's uuid and the
// event. The event's id is the uuid and the carrier's status, so a retried event is the same.
func ParseCallEvent(params url.Values, now time.Time) (callUUID string, ev voice.CallEvent, ok bool) {
	callUUID = params.Get("uuid")
	raw := params.Get("status")
	status, by := MapCallStatus(raw)
	if callUUID == "" || status == "" {
		return "", voice.CallEvent{}, false
	}
	ev = voice.CallEvent{EventID: callUUID + ":" + strings.ToLower(raw), Kind: voice.EventStatus, Status: status, AnsweredBy: by, At: now.UTC()}
	if voice.Final(status) {
		ev.DurationSeconds, _ = strconv.Atoi(params.Get("duration"))
		if status != voice.StatusCompleted {
			ev.Code = params.Get("detail")
			if ev.Code == "" {
				ev.Code = strings.ToLower(raw)
			}
		}
	}
	if t, err := time.Parse(time.RFC3339, params.Get("timestamp")); err == nil {
		ev.At = t.UTC()
	}
	return callUUID, ev, true
}

// ParseInput reads an input action's webhook: the call's uuid and the key pressed ("" when the
// input timed out).
func ParseInput(params url.Values) (callUUID, key string, ok bool) {
	callUUID = params.Get("uuid")
	if callUUID == "" {
		return "", "", false
	}
	var dtmf struct {
		Digits string `json:"digits"`
	}
	if raw := params.Get("dtmf"); raw != "" {
		_ = json.Unmarshal([]byte(raw), &dtmf)
	}
	return callUUID, dtmf.Digits, true
}

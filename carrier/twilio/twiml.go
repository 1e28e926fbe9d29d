package twilio

import (
	"encoding/xml"
	"strconv"
	"strings"

	"smsflow/voice"
)

// Links are where a rendered call points back to our API.
type Links struct {
	// Key is the Gather action of the menu of round: Twilio posts the key pressed there.
	Key func(round int) string
	// Answer is the menu of round offered again, after a silence.
	Answer func(round int) string
	// CallerID is the number a transfer shows (the call's caller id); empty: Twilio's default.
	CallerID string
}

// GatherTimeout is how long a menu waits for a key, in seconds.
const GatherTimeout = 5

// TwiML renders steps as a TwiML document: <Say language voice> or <Play> for speech, a menu as
// <Gather numDigits="1" action=...> followed by a <Redirect> to the next offering (or <Hangup/>
// after the last), <Dial> for a transfer, <Hangup/>.
func TwiML(steps []voice.Step, l Links) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Response>`)
	for _, st := range steps {
		switch st.Kind {
		case voice.StepSay:
			speech(&b, st.Speech)
		case voice.StepMenu:
			b.WriteString(`<Gather input="dtmf" numDigits="1" method="POST" timeout="` + strconv.Itoa(GatherTimeout) + `" action="` + attr(l.Key(st.Round)) + `">`)
			speech(&b, st.Speech)
			b.WriteString(`</Gather>`)
			if st.Again {
				b.WriteString(`<Redirect method="POST">` + text(l.Answer(st.Round+1)) + `</Redirect>`)
			} else {
				b.WriteString(`<Hangup/>`)
			}
		case voice.StepDial:
			b.WriteString(`<Dial`)
			if l.CallerID != "" {
				b.WriteString(` callerId="` + attr(l.CallerID) + `"`)
			}
			b.WriteString(`><Number>` + text(st.TransferTo) + `</Number></Dial>`)
		case voice.StepHangup:
			b.WriteString(`<Hangup/>`)
		}
	}
	b.WriteString(`</Response>`)
	return b.String()
}

func speech(b *strings.Builder, s voice.Speech) {
	if s.AudioURL != "" {
		b.WriteString(`<Play>` + text(s.AudioURL) + `</Play>`)
		return
	}
	if s.Text == "" {
		return
	}
	b.WriteString(`<Say`)
	if s.Language != "" {
		b.WriteString(` language="` + attr(s.Language) + `"`)
	}
	if s.Voice != "" {
		b.WriteString(` voice="` + attr(s.Voice) + `"`)
	}
	b.WriteString(`>` + text(s.Text) + `</Say>`)
}

func text(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func attr(s string) string { return text(s) }

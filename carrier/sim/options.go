package sim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Options configure the simulator. Rates are probabilities in [0,1]; every random choice is drawn
// from Seed and the message's idempotency key, so one seed gives the same outcomes whatever the
// order or concurrency of the sends.
type Options struct {
	Seed int64
	// Delay separates the status callbacks of a message (queued → sent → final) and the reply or
	// click after delivery. Default 100 ms.
	Delay time.Duration
	// Outcome rates; the rest is delivered.
	Undelivered float64 // final status undelivered, ErrorCode 30003
	Failed      float64 // final status failed, ErrorCode 30008
	// Unreported: the message goes queued → sent and no final status ever comes, as when the
	// destination network sends no delivery receipt.
	Unreported float64
	// After delivery: Stop replies "STOP"; else Reply replies ReplyText; Click opens each link of
	// the text that points at APIBaseURL.
	Stop, Reply, Click float64
	ReplyText          string // default "OK"
	// Faults injected on send requests: Error5xx answers 503 without taking the message; Timeout
	// takes the message and then holds the answer for Hang (the client times out first); Slow
	// takes it and answers after SlowDelay.
	Error5xx, Timeout, Slow float64
	Hang                    time.Duration // default 30 s
	SlowDelay               time.Duration // default 2 s
	// APIBaseURL is smsflow's API: replies go to <APIBaseURL>/carriers/sim/inbound.
	APIBaseURL string
	// WebhookSecret signs every callback (carrier.SignWebhook).
	WebhookSecret string
	HTTPClient    *http.Client

	// Voice (see voice.go): how numbers not in VoiceNumbers answer — rates of failed, busy,
	// no-answer and machine; the rest is a person, who presses no key — and the duration reported
	// of an answered call (default 20 s).
	VoiceFailed, VoiceBusy, VoiceNoAnswer, VoiceMachine float64
	VoiceTalkSeconds                                    int
	// VoiceNumbers sets the behaviour of given numbers (also SetVoiceNumber, POST /sim/voice/numbers).
	VoiceNumbers map[string]VoiceNumber
}

func (o *Options) defaults() {
	if o.Delay <= 0 {
		o.Delay = 100 * time.Millisecond
	}
	if o.ReplyText == "" {
		o.ReplyText = "OK"
	}
	if o.Hang <= 0 {
		o.Hang = 30 * time.Second
	}
	if o.SlowDelay <= 0 {
		o.SlowDelay = 2 * time.Second
	}
	if o.VoiceTalkSeconds <= 0 {
		o.VoiceTalkSeconds = 20
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
}

// ParseOptions reads "key=value,key=value" (CARRIERSIM_OPTIONS): seed, delay, undelivered,
// failed, unreported, stop, reply, reply_text, click, 5xx, timeout, slow, hang, slow_delay, and for
// calls voice_failed, voice_busy, voice_no_answer, voice_machine (rates), voice_talk (seconds).
func ParseOptions(s string) (Options, error) {
	var o Options
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, fmt.Errorf("sim: option %q is not key=value", kv)
		}
		var err error
		rate := func(dst *float64) {
			*dst, err = strconv.ParseFloat(v, 64)
			if err == nil && (*dst < 0 || *dst > 1) {
				err = fmt.Errorf("not in [0,1]")
			}
		}
		dur := func(dst *time.Duration) { *dst, err = time.ParseDuration(v) }
		switch k {
		case "seed":
			o.Seed, err = strconv.ParseInt(v, 10, 64)
		case "delay":
			dur(&o.Delay)
		case "hang":
			dur(&o.Hang)
		case "slow_delay":
			dur(&o.SlowDelay)
		case "undelivered":
			rate(&o.Undelivered)
		case "failed":
			rate(&o.Failed)
		case "unreported":
			rate(&o.Unreported)
		case "stop":
			rate(&o.Stop)
		case "reply":
			rate(&o.Reply)
		case "click":
			rate(&o.Click)
		case "5xx":
			rate(&o.Error5xx)
		case "timeout":
			rate(&o.Timeout)
		case "slow":
			rate(&o.Slow)
		case "voice_failed":
			rate(&o.VoiceFailed)
		case "voice_busy":
			rate(&o.VoiceBusy)
		case "voice_no_answer":
			rate(&o.VoiceNoAnswer)
		case "voice_machine":
			rate(&o.VoiceMachine)
		case "voice_talk":
			o.VoiceTalkSeconds, err = strconv.Atoi(v)
		case "reply_text":
			o.ReplyText = v
		default:
			return o, fmt.Errorf("sim: unknown option %q", k)
		}
		if err != nil {
			return o, fmt.Errorf("sim: option %s=%q: %v", k, v, err)
		}
	}
	return o, nil
}

package carrier

import (
	"context"
	"net/url"
	"time"

	"smsflow/voice"
)

// CallRequest is a call as a carrier places it: the call, and where the carrier fetches its
// script (AnswerURL, served by our API from the stored script) and posts its status events.
type CallRequest struct {
	voice.Call
	AnswerURL string
	StatusURL string
}

// Caller places calls through one carrier. PlaceCall answers a *Error classified as Send's: a
// call whose outcome is Uncertain may have been placed and must not be placed again blindly.
type Caller interface {
	PlaceCall(ctx context.Context, r CallRequest) (voice.Receipt, error)
	Name() string
}

// CallFinder is implemented by carriers whose API can find a call placed for r since a time:
// after an uncertain placement the call is looked up, never placed again blindly. FindCall
// returns ErrLookupUnsupported when the configured API cannot answer.
type CallFinder interface {
	FindCall(ctx context.Context, r CallRequest, since time.Time) (voice.Receipt, bool, error)
}

// VoiceURL is the URL of a voice webhook of our API (hook: answer, key, status) for a call
// placed through carrierName; the call id rides in the cid parameter (covered by Twilio's
// signature), and extra parameters (round) after it.
func VoiceURL(base, carrierName, hook, callID string, extra url.Values) string {
	q := url.Values{"cid": {callID}}
	for k, v := range extra {
		q[k] = v
	}
	return base + "/carriers/" + url.PathEscape(carrierName) + "/voice/" + hook + "?" + q.Encode()
}

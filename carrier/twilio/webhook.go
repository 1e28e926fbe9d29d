package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"smsflow/carrier"
)

// SignatureHeader is the header Twilio signs its webhooks with.
const SignatureHeader = "X-Twilio-Signature"

// Signature computes Twilio's signature of a form POST to fullURL (scheme, host, path and query
// exactly as configured at Twilio): base64(HMAC-SHA1(auth token, URL + each parameter's name and
// value, sorted by name)).
func Signature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		vals := append([]string(nil), params[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignature checks an X-Twilio-Signature value in constant time.
func ValidSignature(authToken, header, fullURL string, params url.Values) bool {
	if authToken == "" || header == "" {
		return false
	}
	return hmac.Equal([]byte(header), []byte(Signature(authToken, fullURL, params)))
}

// ParseStatus reads a status callback. query is the callback URL's query: dispatch puts our
// message id in its "mid" parameter, so a report is routed even before the send's answer is
// recorded.
func ParseStatus(form, query url.Values, now time.Time) (carrier.StatusReport, bool) {
	sid := first(form.Get("MessageSid"), form.Get("SmsSid"))
	status := first(form.Get("MessageStatus"), form.Get("SmsStatus"))
	if sid == "" || status == "" {
		return carrier.StatusReport{}, false
	}
	r := carrier.StatusReport{
		CarrierMessageID: sid,
		MessageID:        query.Get("mid"),
		CarrierStatus:    status,
		Status:           MapStatus(status),
		ErrorCode:        form.Get("ErrorCode"),
		ErrorMessage:     form.Get("ErrorMessage"),
		OccurredAt:       now.UTC(),
	}
	// One report per message and status; a retried callback has the same identity.
	r.EventID = sid + ":" + strings.ToLower(status)
	if r.ErrorCode != "" {
		r.EventID += ":" + r.ErrorCode
	}
	if code, err := strconv.Atoi(r.ErrorCode); err == nil {
		r.Permanent = permanentDeliveryCodes[code]
		r.NumberInvalid, r.OptedOut = codeFlags(code)
	}
	return r, true
}

// ParseInbound reads an incoming-message webhook.
func ParseInbound(form url.Values, now time.Time) (carrier.InboundMessage, bool) {
	sid := first(form.Get("MessageSid"), form.Get("SmsMessageSid"), form.Get("SmsSid"))
	from := form.Get("From")
	if sid == "" || from == "" {
		return carrier.InboundMessage{}, false
	}
	return carrier.InboundMessage{EventID: sid, CarrierMessageID: sid, From: from, To: form.Get("To"),
		Text: form.Get("Body"), OccurredAt: now.UTC()}, true
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

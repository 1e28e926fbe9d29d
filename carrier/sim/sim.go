// Package sim is a carrier simulator speaking Twilio's Messages and Calls wire format (calls: see
// voice.go), so that development,
// tests and benchmarks exercise the real adapter. It dedupes sends on the Idempotency-Key header
// (our message id), posts signed status callbacks (queued → sent → delivered / undelivered /
// failed, or no final status at all), opens the message's short links and replies (including
// "STOP") to smsflow's API, and injects 5xx answers, timeouts and slow answers. It counts
// everything it received.
//
// Twilio's test numbers behave as at Twilio: +15005550001 invalid (21211), +15005550002 not
// routable (21612), +15005550003 no permission for the region (21408), +15005550004 opted out
// (21610), +15005550009 not a mobile (21614).
package sim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"smsflow/carrier"
)

// Stats counts what the simulator received and did.
type Stats struct {
	SendRequests     int            `json:"send_requests"`
	Accepted         int            `json:"accepted"`   // distinct messages taken
	Duplicates       int            `json:"duplicates"` // sends answered from an earlier one with the same key
	Rejected         int            `json:"rejected"`   // 4xx answers
	Injected5xx      int            `json:"injected_5xx"`
	InjectedTimeouts int            `json:"injected_timeouts"`
	InjectedSlow     int            `json:"injected_slow"`
	Lookups          int            `json:"lookups"`
	Callbacks        int            `json:"callbacks"` // status callbacks answered 2xx
	CallbackFailures int            `json:"callback_failures"`
	Replies          int            `json:"replies"`
	Stops            int            `json:"stops"`
	Clicks           int            `json:"clicks"`
	Outcomes         map[string]int `json:"outcomes"`         // final status → messages
	SendsByMessage   map[string]int `json:"sends_by_message"` // idempotency key → send requests
	// Voice.
	CallRequests int            `json:"call_requests"`
	Calls        int            `json:"calls"` // distinct calls taken
	KeysPressed  int            `json:"keys_pressed"`
	Transfers    int            `json:"transfers"`
	CallOutcomes map[string]int `json:"call_outcomes"` // human | machine | busy | no-answer | failed → calls
}

type simMessage struct {
	SID, Key, From, To, Body, Callback string
	Status                             string
	ErrorCode                          int
	Created                            time.Time
}

// Sim is the simulator; it is an http.Handler.
type Sim struct {
	o      Options
	mux    *http.ServeMux
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	stats  Stats
	byKey  map[string]*simMessage
	bySID  map[string]*simMessage
	faults struct{ e5xx, timeout, slow float64 }

	voiceNumbers map[string]VoiceNumber
	callsByKey   map[string]*simCall
	callsBySID   map[string]*simCall
	callRequests map[string]int
}

// New builds a simulator.
func New(o Options) *Sim {
	o.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sim{o: o, mux: http.NewServeMux(), ctx: ctx, cancel: cancel, byKey: map[string]*simMessage{}, bySID: map[string]*simMessage{}}
	s.stats.Outcomes, s.stats.SendsByMessage, s.stats.CallOutcomes = map[string]int{}, map[string]int{}, map[string]int{}
	s.voiceNumbers, s.callsByKey, s.callsBySID, s.callRequests = map[string]VoiceNumber{}, map[string]*simCall{}, map[string]*simCall{}, map[string]int{}
	for n, v := range o.VoiceNumbers {
		s.voiceNumbers[n] = v
	}
	s.faults.e5xx, s.faults.timeout, s.faults.slow = o.Error5xx, o.Timeout, o.Slow
	s.mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Messages.json", s.create)
	s.mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages/{sid}", s.fetch)
	s.mux.HandleFunc("GET /sim/messages", s.lookup)
	s.registerVoice()
	s.mux.HandleFunc("GET /sim/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Stats()) })
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	return s
}

func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetFaults changes the fault rates of later send requests.
func (s *Sim) SetFaults(error5xx, timeout, slow float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.e5xx, s.faults.timeout, s.faults.slow = error5xx, timeout, slow
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Outcomes, st.SendsByMessage, st.CallOutcomes = map[string]int{}, map[string]int{}, map[string]int{}
	for k, v := range s.stats.CallOutcomes {
		st.CallOutcomes[k] = v
	}
	for k, v := range s.stats.Outcomes {
		st.Outcomes[k] = v
	}
	for k, v := range s.stats.SendsByMessage {
		st.SendsByMessage[k] = v
	}
	return st
}

// Sends is how many send requests carried messageID as idempotency key.
func (s *Sim) Sends(messageID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.SendsByMessage[messageID]
}

// Accepted is how many distinct messages were taken.
func (s *Sim) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Accepted
}

// Drain waits until every scheduled callback, click and reply is done (or ctx ends).
func (s *Sim) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops pending callbacks and waits for them.
func (s *Sim) Close() {
	s.cancel()
	s.wg.Wait()
}

// rng is deterministic per seed, key and purpose.
func (s *Sim) rng(key, purpose string, n int) *rand.Rand {
	h := sha256.Sum256([]byte(strconv.FormatInt(s.o.Seed, 10) + "\x00" + key + "\x00" + purpose + "\x00" + strconv.Itoa(n)))
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:16])))
}

var magic = map[string]struct {
	code   int
	status int
	msg    string
}{
	"+15005550001": {21211, 400, "The 'To' number is not a valid phone number."},
	"+15005550002": {21612, 400, "The 'To' phone number is not currently reachable via SMS."},
	"+15005550003": {21408, 400, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number."},
	"+15005550004": {21610, 400, "Attempt to send to unsubscribed recipient"},
	"+15005550009": {21614, 400, "'To' number is not a valid mobile number"},
}

func (s *Sim) create(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := r.BasicAuth(); !ok {
		writeJSON(w, 401, twilioError{Code: 20003, Message: "Authenticate", Status: 401})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, twilioError{Code: 21100, Message: "bad form", Status: 400})
		return
	}
	to, body := r.PostForm.Get("To"), r.PostForm.Get("Body")
	from := r.PostForm.Get("From")
	if from == "" {
		from = r.PostForm.Get("MessagingServiceSid")
	}
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	s.stats.SendRequests++
	n := 0
	if key != "" {
		s.stats.SendsByMessage[key]++
		n = s.stats.SendsByMessage[key]
	} else {
		key = "anon-" + strconv.Itoa(s.stats.SendRequests)
	}
	faults := s.faults
	s.mu.Unlock()

	switch {
	case to == "":
		s.reject(w, 21604, "A 'To' phone number is required.")
		return
	case from == "":
		s.reject(w, 21603, "A 'From' phone number is required.")
		return
	case body == "":
		s.reject(w, 21602, "Message body is required.")
		return
	case len([]rune(body)) > 1600:
		s.reject(w, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	if m, ok := magic[to]; ok {
		s.reject(w, m.code, m.msg)
		return
	}
	rng := s.rng(key, "fault", n)
	roll := rng.Float64()
	switch {
	case roll < faults.e5xx:
		s.count(func(st *Stats) { st.Injected5xx++ })
		writeJSON(w, 503, twilioError{Code: 20503, Message: "Service Unavailable", Status: 503})
		return
	case roll < faults.e5xx+faults.timeout:
		s.count(func(st *Stats) { st.InjectedTimeouts++ })
		msg := s.take(key, from, to, body, r.PostForm.Get("StatusCallback"))
		s.wait(r.Context(), s.o.Hang)
		writeJSON(w, 201, msg)
		return
	case roll < faults.e5xx+faults.timeout+faults.slow:
		s.count(func(st *Stats) { st.InjectedSlow++ })
		s.wait(r.Context(), s.o.SlowDelay)
	}
	writeJSON(w, 201, s.take(key, from, to, body, r.PostForm.Get("StatusCallback")))
}

func (s *Sim) reject(w http.ResponseWriter, code int, msg string) {
	s.count(func(st *Stats) { st.Rejected++ })
	writeJSON(w, 400, twilioError{Code: code, Message: msg, MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), Status: 400})
}

func (s *Sim) wait(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	case <-s.ctx.Done():
	}
}

func (s *Sim) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// take creates the message of key, or returns the one already taken with that key.
func (s *Sim) take(key, from, to, body, callback string) resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.byKey[key]; ok {
		s.stats.Duplicates++
		return toResource(m)
	}
	h := sha256.Sum256([]byte(strconv.FormatInt(s.o.Seed, 10) + "/" + key))
	m := &simMessage{SID: "SM" + hex.EncodeToString(h[:16]), Key: key, From: from, To: to, Body: body, Callback: callback,
		Status: "queued", Created: time.Now().UTC()}
	s.byKey[key], s.bySID[m.SID] = m, m
	s.stats.Accepted++
	s.wg.Add(1)
	go s.lifecycle(m)
	return toResource(m)
}

func (s *Sim) fetch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	res, ok := s.resource(s.bySID[strings.TrimSuffix(r.PathValue("sid"), ".json")])
	s.mu.Unlock()
	writeResource(w, res, ok)
}

// lookup is the simulator's extension: find a message by idempotency key.
func (s *Sim) lookup(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Lookups++
	res, ok := s.resource(s.byKey[r.URL.Query().Get("ref")])
	s.mu.Unlock()
	writeResource(w, res, ok)
}

// resource is m as Twilio shows it, false when there is no message; called with s.mu held.
func (s *Sim) resource(m *simMessage) (resource, bool) {
	if m == nil {
		return resource{}, false
	}
	return toResource(m), true
}

// writeResource answers a message resource, or Twilio's 404 when there is none.
func writeResource(w http.ResponseWriter, res resource, ok bool) {
	if !ok {
		writeJSON(w, 404, twilioError{Code: 20404, Message: "The requested resource was not found", Status: 404})
		return
	}
	writeJSON(w, 200, res)
}

// lifecycle posts the message's status callbacks, then its click and reply.
func (s *Sim) lifecycle(m *simMessage) {
	defer s.wg.Done()
	rng := s.rng(m.Key, "outcome", 0)
	final, code := "delivered", 0
	switch roll := rng.Float64(); {
	case roll < s.o.Failed:
		final, code = "failed", 30008
	case roll < s.o.Failed+s.o.Undelivered:
		final, code = "undelivered", 30003
	case roll < s.o.Failed+s.o.Undelivered+s.o.Unreported:
		final = "sent" // no receipt after sent
	}
	steps := []string{"queued", "sent", final}
	if final == "failed" || final == "sent" {
		steps = []string{"queued", final}
	}
	for _, st := range steps {
		if !s.sleep(s.o.Delay) {
			return
		}
		s.mu.Lock()
		m.Status = st
		if st == final {
			m.ErrorCode = code
			s.stats.Outcomes[final]++
		}
		s.mu.Unlock()
		if m.Callback != "" {
			form := url.Values{"MessageSid": {m.SID}, "SmsSid": {m.SID}, "MessageStatus": {st}, "SmsStatus": {st},
				"AccountSid": {"ACsimulator"}, "From": {m.From}, "To": {m.To}, "ApiVersion": {"2010-04-01"}}
			if st == final && code != 0 {
				form.Set("ErrorCode", strconv.Itoa(code))
			}
			if s.post(m.Callback, form) {
				s.count(func(st *Stats) { st.Callbacks++ })
			} else {
				s.count(func(st *Stats) { st.CallbackFailures++ })
			}
		}
	}
	if final != "delivered" || s.o.APIBaseURL == "" {
		return
	}
	if rng.Float64() < s.o.Click {
		for _, link := range linkRE.FindAllString(m.Body, -1) {
			if !strings.HasPrefix(link, s.o.APIBaseURL+"/") || !s.sleep(s.o.Delay) {
				continue
			}
			if resp, err := s.o.HTTPClient.Get(link); err == nil {
				resp.Body.Close()
				s.count(func(st *Stats) { st.Clicks++ })
			}
		}
	}
	text := ""
	switch roll := rng.Float64(); {
	case roll < s.o.Stop:
		text = "STOP"
	case roll < s.o.Stop+s.o.Reply:
		text = s.o.ReplyText
	}
	if text != "" && s.sleep(s.o.Delay) {
		_ = s.reply(m, text)
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s]+`)

// Reply makes the recipient of messageID answer text now (for tests). It reports whether the
// API took the inbound webhook.
func (s *Sim) Reply(messageID, text string) bool {
	s.mu.Lock()
	m, ok := s.byKey[messageID]
	s.mu.Unlock()
	return ok && s.reply(m, text)
}

func (s *Sim) reply(m *simMessage, text string) bool {
	h := sha256.Sum256([]byte(m.SID + "/reply/" + text + "/" + strconv.FormatInt(time.Now().UnixNano(), 10)))
	form := url.Values{"MessageSid": {"SM" + hex.EncodeToString(h[:16])}, "AccountSid": {"ACsimulator"},
		"From": {m.To}, "To": {m.From}, "Body": {text}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"}}
	ok := s.post(s.o.APIBaseURL+"/carriers/sim/inbound", form)
	if ok {
		s.count(func(st *Stats) {
			st.Replies++
			if isStop, _ := carrier.ClassifyReply(text); isStop {
				st.Stops++
			}
		})
	}
	return ok
}

// post sends a signed form, retrying like a carrier (3 tries) while the answer is not 2xx.
func (s *Sim) post(target string, form url.Values) bool {
	body := form.Encode()
	for try := 0; try < 3; try++ {
		if try > 0 && !s.sleep(s.o.Delay*time.Duration(try)) {
			return false
		}
		req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, target, strings.NewReader(body))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(carrier.SignatureHeader, carrier.SignWebhook(s.o.WebhookSecret, target, []byte(body), time.Now()))
		resp, err := s.o.HTTPClient.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return true
		}
		if resp.StatusCode/100 == 4 {
			return false // refused: retrying will not help
		}
	}
	return false
}

func (s *Sim) sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-s.ctx.Done():
		return false
	}
}

type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info,omitempty"`
	Status   int    `json:"status"`
}

type resource struct {
	SID         string `json:"sid"`
	AccountSID  string `json:"account_sid"`
	From        string `json:"from"`
	To          string `json:"to"`
	Body        string `json:"body"`
	Status      string `json:"status"`
	NumSegments string `json:"num_segments"`
	ErrorCode   *int   `json:"error_code"`
	DateCreated string `json:"date_created"`
	APIVersion  string `json:"api_version"`
}

func toResource(m *simMessage) resource {
	r := resource{SID: m.SID, AccountSID: "ACsimulator", From: m.From, To: m.To, Body: m.Body, Status: m.Status,
		NumSegments: "1", DateCreated: m.Created.Format(time.RFC1123Z), APIVersion: "2010-04-01"}
	if m.ErrorCode != 0 {
		c := m.ErrorCode
		r.ErrorCode = &c
	}
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

package sim

// Voice, in Twilio's Programmable Voice wire format.
//
// The simulator takes POST /2010-04-01/Accounts/{sid}/Calls.json (To, From, Url, StatusCallback,
// StatusCallbackEvent, MachineDetection, Timeout; deduped on the Idempotency-Key header, with the
// same injected faults as sends), then plays the call: status callbacks initiated and ringing,
// then the number's outcome — busy, no-answer or failed end the call there; a person or a machine
// answers: the answered callback, then the TwiML of Url is fetched from our API and played. <Say>
// and <Play> are noted; <Gather> presses the number's next scripted key at its time by posting
// Digits to the Gather's action (a machine presses none; with no key left the Gather times out and
// the next verb runs); the action's answer is played next; <Redirect> fetches and plays its URL;
// <Dial> notes its number as a transfer target; <Hangup/> or the end of the document ends the
// call, followed by the completed callback with CallDuration (the number's talk seconds) and
// AnsweredBy. Every request to our API is signed as the SMS callbacks are (carrier.SignWebhook).
//
// A number's behaviour is set from Go (Options.VoiceNumbers, Sim.SetVoiceNumber) or over HTTP:
//
//	POST /sim/voice/numbers {"number":"+33612345601","answer":"human","keys":[{"key":"1","after":"3s"}],"talk_seconds":20}
//	GET  /sim/voice/numbers               the numbers configured
//	GET  /sim/voice/calls?ref=<call id>   what happened on the call placed with that idempotency key
//	GET  /sim/calls?ref=<call id>         the call as Twilio's Call resource (lookup by reference)
//
// answer is human, machine, busy, no-answer or failed. keys are pressed in order, one per menu
// offered, each `after` (a Go duration) from the moment its menu starts. Numbers not configured
// answer by the rates VoiceFailed, VoiceBusy, VoiceNoAnswer, VoiceMachine (the rest: a person who
// presses nothing), talking VoiceTalkSeconds.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"smsflow/carrier"
)

// How a called number answers (VoiceNumber.Answer).
const (
	AnswerHuman    = "human"
	AnswerMachine  = "machine"
	AnswerBusy     = "busy"
	AnswerNoAnswer = "no-answer"
	AnswerFailed   = "failed"
)

// VoiceNumber is how a number behaves when called.
type VoiceNumber struct {
	Answer      string     `json:"answer"`
	Keys        []KeyPress `json:"keys,omitempty"`
	TalkSeconds int        `json:"talk_seconds,omitempty"` // the duration reported; 0: VoiceTalkSeconds
}

// KeyPress is one key pressed at a menu, After the menu started.
type KeyPress struct {
	Key   string   `json:"key"`
	After Duration `json:"after"`
}

// Duration is a time.Duration written as Go writes durations ("3s") in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("sim: duration %s: want \"3s\" or seconds", b)
		}
		*d = Duration(n * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

func (v VoiceNumber) validate() error {
	switch v.Answer {
	case AnswerHuman, AnswerMachine, AnswerBusy, AnswerNoAnswer, AnswerFailed:
	default:
		return fmt.Errorf("sim: answer %q is not one of human, machine, busy, no-answer, failed", v.Answer)
	}
	for _, k := range v.Keys {
		if len(k.Key) != 1 || !strings.Contains("0123456789*#", k.Key) || k.After < 0 {
			return fmt.Errorf("sim: key %q after %s is not a key 0-9, * or # at a time ≥ 0", k.Key, time.Duration(k.After))
		}
	}
	if v.TalkSeconds < 0 {
		return errors.New("sim: talk_seconds < 0")
	}
	return nil
}

// CallRecord is what happened on a call the simulator took.
type CallRecord struct {
	SID        string   `json:"sid"`
	Ref        string   `json:"ref"` // the Idempotency-Key: our call id
	From       string   `json:"from"`
	To         string   `json:"to"`
	Status     string   `json:"status"`
	AnsweredBy string   `json:"answered_by,omitempty"`
	Said       []string `json:"said"`      // what was said (text) or played ("play:<url>"), in order
	Pressed    []string `json:"pressed"`   // the keys pressed
	Transfers  []string `json:"transfers"` // the <Dial> targets
	Duration   int      `json:"duration"`
	Requests   int      `json:"requests"` // Calls API requests carrying Ref
	Errors     []string `json:"errors,omitempty"`
}

type simCall struct {
	rec              CallRecord
	url              string
	callback         string
	events           map[string]bool
	machineDetection bool
	created          time.Time
	seq              int
}

// SetVoiceNumber sets how number answers later calls.
func (s *Sim) SetVoiceNumber(number string, v VoiceNumber) error {
	if err := v.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.voiceNumbers[number] = v
	return nil
}

// Call is what happened on the call placed with idempotency key ref (our call id).
func (s *Sim) Call(ref string) (CallRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.callsByKey[ref]
	if !ok {
		return CallRecord{}, false
	}
	return c.copy(), true
}

// WaitCall waits until the call of ref ended (or ctx ends) and returns it.
func (s *Sim) WaitCall(ctx context.Context, ref string) (CallRecord, error) {
	for {
		if c, ok := s.Call(ref); ok && c.ended() {
			return c, nil
		}
		select {
		case <-ctx.Done():
			c, _ := s.Call(ref)
			return c, fmt.Errorf("sim: call %s still %q: %w", ref, c.Status, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (c CallRecord) ended() bool {
	switch c.Status {
	case "completed", AnswerBusy, AnswerNoAnswer, AnswerFailed, "canceled":
		return true
	}
	return false
}

func (c *simCall) copy() CallRecord {
	r := c.rec
	r.Said = append([]string{}, c.rec.Said...)
	r.Pressed = append([]string{}, c.rec.Pressed...)
	r.Transfers = append([]string{}, c.rec.Transfers...)
	r.Errors = append([]string(nil), c.rec.Errors...)
	return r
}

func (s *Sim) registerVoice() {
	s.mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Calls.json", s.createCall)
	s.mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Calls.json", s.listCalls)
	s.mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Calls/{sid}", s.fetchCall)
	s.mux.HandleFunc("GET /sim/calls", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.Lookups++
		c, ok := s.callsByKey[r.URL.Query().Get("ref")]
		var res callResource
		if ok {
			res = c.resource()
		}
		s.mu.Unlock()
		if !ok {
			writeJSON(w, 404, twilioError{Code: 20404, Message: "The requested resource was not found", Status: 404})
			return
		}
		writeJSON(w, 200, res)
	})
	s.mux.HandleFunc("GET /sim/voice/calls", func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.Call(r.URL.Query().Get("ref"))
		if !ok {
			writeJSON(w, 404, map[string]string{"error": "no call with that ref"})
			return
		}
		writeJSON(w, 200, c)
	})
	s.mux.HandleFunc("POST /sim/voice/numbers", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Number string `json:"number"`
			VoiceNumber
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil || in.Number == "" {
			writeJSON(w, 400, map[string]string{"error": "want {\"number\":\"+...\",\"answer\":\"human\",\"keys\":[{\"key\":\"1\",\"after\":\"3s\"}],\"talk_seconds\":20}"})
			return
		}
		if err := s.SetVoiceNumber(in.Number, in.VoiceNumber); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 200, in)
	})
	s.mux.HandleFunc("GET /sim/voice/numbers", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		out := map[string]VoiceNumber{}
		for k, v := range s.voiceNumbers {
			out[k] = v
		}
		s.mu.Unlock()
		writeJSON(w, 200, out)
	})
}

// callResource is Twilio's Call resource.
type callResource struct {
	SID         string  `json:"sid"`
	AccountSID  string  `json:"account_sid"`
	From        string  `json:"from"`
	To          string  `json:"to"`
	Status      string  `json:"status"`
	AnsweredBy  *string `json:"answered_by"`
	Duration    *string `json:"duration"`
	Direction   string  `json:"direction"`
	DateCreated string  `json:"date_created"`
	APIVersion  string  `json:"api_version"`
}

// resource is called with s.mu held.
func (c *simCall) resource() callResource {
	r := callResource{SID: c.rec.SID, AccountSID: "ACsimulator", From: c.rec.From, To: c.rec.To, Status: twilioCallStatus(c.rec.Status),
		Direction: "outbound-api", DateCreated: c.created.Format(time.RFC1123Z), APIVersion: "2010-04-01"}
	if c.rec.AnsweredBy != "" {
		a := c.rec.AnsweredBy
		r.AnsweredBy = &a
	}
	if c.rec.ended() {
		d := strconv.Itoa(c.rec.Duration)
		r.Duration = &d
	}
	return r
}

func twilioCallStatus(s string) string {
	switch s {
	case "answered":
		return "in-progress"
	case "initiated":
		return "queued"
	}
	return s
}

func (s *Sim) createCall(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := r.BasicAuth(); !ok {
		writeJSON(w, 401, twilioError{Code: 20003, Message: "Authenticate", Status: 401})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, twilioError{Code: 21100, Message: "bad form", Status: 400})
		return
	}
	f := r.PostForm
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	s.stats.CallRequests++
	n := 0
	if key != "" {
		s.callRequests[key]++
		n = s.callRequests[key]
		if c, ok := s.callsByKey[key]; ok {
			c.rec.Requests = n
		}
	} else {
		key = "anon-call-" + strconv.Itoa(s.stats.CallRequests)
	}
	faults := s.faults
	s.mu.Unlock()
	switch {
	case f.Get("To") == "":
		s.reject(w, 21201, "No 'To' number is specified")
		return
	case f.Get("From") == "":
		s.reject(w, 21213, "No 'From' number is specified")
		return
	case f.Get("Url") == "" && f.Get("Twiml") == "":
		s.reject(w, 21205, "Url parameter is required")
		return
	}
	if m, ok := magic[f.Get("To")]; ok {
		s.reject(w, m.code, m.msg)
		return
	}
	roll := s.rng(key, "call-fault", n).Float64()
	switch {
	case roll < faults.e5xx:
		s.count(func(st *Stats) { st.Injected5xx++ })
		writeJSON(w, 503, twilioError{Code: 20503, Message: "Service Unavailable", Status: 503})
		return
	case roll < faults.e5xx+faults.timeout:
		s.count(func(st *Stats) { st.InjectedTimeouts++ })
		res := s.takeCall(key, f, n)
		s.wait(r.Context(), s.o.Hang)
		writeJSON(w, 201, res)
		return
	case roll < faults.e5xx+faults.timeout+faults.slow:
		s.count(func(st *Stats) { st.InjectedSlow++ })
		s.wait(r.Context(), s.o.SlowDelay)
	}
	writeJSON(w, 201, s.takeCall(key, f, n))
}

// takeCall creates the call of key, or returns the one already taken with that key.
func (s *Sim) takeCall(key string, f url.Values, requests int) callResource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.callsByKey[key]; ok {
		s.stats.Duplicates++
		return c.resource()
	}
	h := sha256.Sum256([]byte(strconv.FormatInt(s.o.Seed, 10) + "/call/" + key))
	c := &simCall{rec: CallRecord{SID: "CA" + hex.EncodeToString(h[:16]), Ref: key, From: f.Get("From"), To: f.Get("To"),
		Status: "initiated", Requests: max(requests, 1), Said: []string{}, Pressed: []string{}, Transfers: []string{}},
		url: f.Get("Url"), callback: f.Get("StatusCallback"), events: map[string]bool{"completed": true},
		machineDetection: f.Get("MachineDetection") != "", created: time.Now().UTC()}
	for _, e := range f["StatusCallbackEvent"] {
		for _, e := range strings.Fields(e) {
			c.events[e] = true
		}
	}
	s.callsByKey[key], s.callsBySID[c.rec.SID] = c, c
	s.stats.Calls++
	s.wg.Add(1)
	go s.playCall(c)
	return c.resource()
}

func (s *Sim) fetchCall(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	c, ok := s.callsBySID[strings.TrimSuffix(r.PathValue("sid"), ".json")]
	var res callResource
	if ok {
		res = c.resource()
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, 404, twilioError{Code: 20404, Message: "The requested resource was not found", Status: 404})
		return
	}
	writeJSON(w, 200, res)
}

// listCalls is Twilio's Calls list, filtered by To and From, newest first.
func (s *Sim) listCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	var out []callResource
	var at []time.Time
	for _, c := range s.callsBySID {
		if (q.Get("To") == "" || q.Get("To") == c.rec.To) && (q.Get("From") == "" || q.Get("From") == c.rec.From) {
			out, at = append(out, c.resource()), append(at, c.created)
		}
	}
	s.mu.Unlock()
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return at[idx[a]].After(at[idx[b]]) })
	sorted := make([]callResource, 0, len(out))
	for _, i := range idx {
		sorted = append(sorted, out[i])
	}
	writeJSON(w, 200, map[string]any{"calls": sorted, "page": 0, "page_size": 50})
}

// outcome is how the call's number answers.
func (s *Sim) voiceOutcome(c *simCall) VoiceNumber {
	s.mu.Lock()
	v, ok := s.voiceNumbers[c.rec.To]
	s.mu.Unlock()
	if !ok {
		o := s.o
		v = VoiceNumber{Answer: AnswerHuman}
		switch roll := s.rng(c.rec.Ref, "call-outcome", 0).Float64(); {
		case roll < o.VoiceFailed:
			v.Answer = AnswerFailed
		case roll < o.VoiceFailed+o.VoiceBusy:
			v.Answer = AnswerBusy
		case roll < o.VoiceFailed+o.VoiceBusy+o.VoiceNoAnswer:
			v.Answer = AnswerNoAnswer
		case roll < o.VoiceFailed+o.VoiceBusy+o.VoiceNoAnswer+o.VoiceMachine:
			v.Answer = AnswerMachine
		}
	}
	if v.TalkSeconds == 0 {
		v.TalkSeconds = s.o.VoiceTalkSeconds
	}
	return v
}

// sipCodes are the SIP answers reported with a call that was not answered.
var sipCodes = map[string]string{AnswerBusy: "486", AnswerNoAnswer: "487", AnswerFailed: "500"}

// playCall runs the call: callbacks, the TwiML, the final callback.
func (s *Sim) playCall(c *simCall) {
	defer s.wg.Done()
	v := s.voiceOutcome(c)
	s.callStatus(c, "initiated", nil)
	if !s.sleep(s.o.Delay) {
		return
	}
	s.callStatus(c, "ringing", nil)
	if !s.sleep(s.o.Delay) {
		return
	}
	switch v.Answer {
	case AnswerBusy, AnswerNoAnswer, AnswerFailed:
		s.callStatus(c, v.Answer, url.Values{"CallDuration": {"0"}, "SipResponseCode": {sipCodes[v.Answer]}})
		s.count(func(st *Stats) { st.CallOutcomes[v.Answer]++ })
		return
	}
	s.mu.Lock()
	if c.machineDetection {
		c.rec.AnsweredBy = "human"
		if v.Answer == AnswerMachine {
			c.rec.AnsweredBy = "machine_start"
		}
	}
	s.mu.Unlock()
	s.callStatus(c, "answered", nil)
	keys := v.Keys
	if v.Answer == AnswerMachine {
		keys = nil
	}
	s.runTwiML(c, keys)
	s.mu.Lock()
	c.rec.Duration = v.TalkSeconds
	s.mu.Unlock()
	s.callStatus(c, "completed", url.Values{"CallDuration": {strconv.Itoa(v.TalkSeconds)}, "SipResponseCode": {"200"}})
	s.count(func(st *Stats) { st.CallOutcomes[v.Answer]++ })
}

// maxDocuments bounds the TwiML documents one call fetches (a Redirect loop ends there).
const maxDocuments = 20

// twimlNode is any TwiML element.
type twimlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr  `xml:",any,attr"`
	Text     string      `xml:",chardata"`
	Children []twimlNode `xml:",any"`
}

func (n twimlNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// runTwiML fetches the call's TwiML and plays it, pressing keys at its menus.
func (s *Sim) runTwiML(c *simCall, keys []KeyPress) {
	target, params := c.url, s.callParams(c, "in-progress")
	for docs := 0; docs < maxDocuments && target != ""; docs++ {
		current := target
		doc, err := s.fetchDocument(target, params)
		if err != nil {
			s.callError(c, err)
			return
		}
		var root twimlNode
		if err := xml.Unmarshal(doc, &root); err != nil || root.XMLName.Local != "Response" {
			s.callError(c, fmt.Errorf("unreadable TwiML from %s: %v", target, err))
			return
		}
		target, params = "", s.callParams(c, "in-progress")
	verbs:
		for _, verb := range root.Children {
			switch verb.XMLName.Local {
			case "Say", "Play":
				s.note(c, verb)
			case "Gather":
				for _, inner := range verb.Children {
					s.note(c, inner)
				}
				if len(keys) == 0 {
					continue // the Gather times out: the next verb runs
				}
				k := keys[0]
				keys = keys[1:]
				if !s.sleep(time.Duration(k.After)) {
					return
				}
				s.mu.Lock()
				c.rec.Pressed = append(c.rec.Pressed, k.Key)
				s.stats.KeysPressed++
				s.mu.Unlock()
				target = verb.attr("action")
				if target == "" {
					target = current // Twilio posts a Gather without action to the document's URL
				}
				params.Set("Digits", k.Key)
				params.Set("FinishedOnKey", "")
				break verbs
			case "Redirect":
				target = strings.TrimSpace(verb.Text)
				break verbs
			case "Dial":
				number := strings.TrimSpace(verb.Text)
				for _, inner := range verb.Children {
					if inner.XMLName.Local == "Number" {
						number = strings.TrimSpace(inner.Text)
					}
				}
				s.mu.Lock()
				c.rec.Transfers = append(c.rec.Transfers, number)
				s.stats.Transfers++
				s.mu.Unlock()
			case "Hangup", "Reject":
				return
			}
		}
	}
}

func (s *Sim) note(c *simCall, verb twimlNode) {
	what := ""
	switch verb.XMLName.Local {
	case "Say":
		what = strings.TrimSpace(verb.Text)
	case "Play":
		what = "play:" + strings.TrimSpace(verb.Text)
	default:
		return
	}
	s.mu.Lock()
	c.rec.Said = append(c.rec.Said, what)
	s.mu.Unlock()
}

func (s *Sim) callError(c *simCall, err error) {
	s.mu.Lock()
	c.rec.Errors = append(c.rec.Errors, err.Error())
	s.stats.CallbackFailures++
	s.mu.Unlock()
}

// callParams are the parameters Twilio posts about a call.
func (s *Sim) callParams(c *simCall, status string) url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.seq++
	p := url.Values{"CallSid": {c.rec.SID}, "AccountSid": {"ACsimulator"}, "From": {c.rec.From}, "To": {c.rec.To},
		"CallStatus": {status}, "Direction": {"outbound-api"}, "ApiVersion": {"2010-04-01"}}
	if c.rec.AnsweredBy != "" {
		p.Set("AnsweredBy", c.rec.AnsweredBy)
	}
	return p
}

// callStatus moves the call to status and posts the callback when the call asked for it.
func (s *Sim) callStatus(c *simCall, status string, extra url.Values) {
	s.mu.Lock()
	c.rec.Status = status
	event := status
	switch status {
	case AnswerBusy, AnswerNoAnswer, AnswerFailed, "canceled":
		event = "completed"
	}
	want := c.callback != "" && c.events[event]
	s.mu.Unlock()
	if !want {
		return
	}
	p := s.callParams(c, twilioCallStatus(status))
	s.mu.Lock()
	p.Set("SequenceNumber", strconv.Itoa(c.seq-1))
	s.mu.Unlock()
	p.Set("CallbackSource", "call-progress-events")
	p.Set("Timestamp", time.Now().UTC().Format(time.RFC1123Z))
	for k, v := range extra {
		p[k] = v
	}
	if s.post(c.callback, p) {
		s.count(func(st *Stats) { st.Callbacks++ })
	} else {
		s.count(func(st *Stats) { st.CallbackFailures++ })
	}
}

// fetchDocument posts a signed form to our API and returns its answer (TwiML), retrying like
// Twilio (3 tries) while the answer is not 2xx.
func (s *Sim) fetchDocument(target string, form url.Values) ([]byte, error) {
	body := form.Encode()
	var last error
	for try := 0; try < 3; try++ {
		if try > 0 && !s.sleep(s.o.Delay*time.Duration(try)) {
			return nil, context.Canceled
		}
		req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, target, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(carrier.SignatureHeader, carrier.SignWebhook(s.o.WebhookSecret, target, []byte(body), time.Now()))
		resp, err := s.o.HTTPClient.Do(req)
		if err != nil {
			last = err
			continue
		}
		doc, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case err != nil:
			last = err
		case resp.StatusCode/100 == 2:
			return bytes.TrimSpace(doc), nil
		case resp.StatusCode/100 == 4:
			return nil, fmt.Errorf("%s answered %d", target, resp.StatusCode)
		default:
			last = fmt.Errorf("%s answered %d", target, resp.StatusCode)
		}
	}
	return nil, last
}

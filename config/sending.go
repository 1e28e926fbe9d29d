package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sending is the sending discipline at volume: how wake-ups are spread, how fast each sender
// number may send, and how many marketing messages one recipient may get.
type Sending struct {
	// WakeSpread spreads the messages waking at a window's opening or a quota's daily reset over
	// this span (each message at an offset given by its id), instead of all at the same instant.
	WakeSpread time.Duration
	// SenderRates are the messages per second a sender may send, by its class.
	SenderRates SenderRates
	// PacingMaxWait is the longest a dispatch waits for its sender's slot; a later slot sends the
	// message back to its hold until then.
	PacingMaxWait time.Duration
	// FrequencyCaps limit the marketing messages per recipient per portal; empty: no cap.
	FrequencyCaps []FrequencyCap
	// FrequencyCapOnExceed is what a capped message does by default: reject (NOT_SENT
	// FREQUENCY_CAPPED) or defer (wait until the cap frees); a portal setting overrides it.
	FrequencyCapOnExceed string
}

// SenderRates are messages per second by sender class.
type SenderRates struct {
	LongCode, TollFree, ShortCode, Alphanumeric float64
}

// FrequencyCap is at most Max messages in any Per.
type FrequencyCap struct {
	Max int
	Per time.Duration
}

func (f FrequencyCap) String() string { return fmt.Sprintf("%d/%s", f.Max, formatDays(f.Per)) }

// Worker sizes one worker process (see worker.Options).
type Worker struct {
	// ActivitySlots, LocalActivitySlots and WorkflowTaskSlots bound the tasks of each kind the
	// process runs at once.
	ActivitySlots, LocalActivitySlots, WorkflowTaskSlots int
	// ActivityPollers and WorkflowPollers are the long polls kept open on the task queue.
	ActivityPollers, WorkflowPollers int
	// StickyCacheSize is how many workflow runs the process keeps in memory between their tasks
	// (process-wide); a run evicted is replayed from its history at its next task.
	StickyCacheSize int
}

// Sender classes of SenderRates.Of.
const (
	ClassLongCode     = "long_code"
	ClassTollFree     = "toll_free"
	ClassShortCode    = "short_code"
	ClassAlphanumeric = "alphanumeric"
)

// Of is the rate of a sender class (the long code's for an unknown class).
func (r SenderRates) Of(class string) float64 {
	switch class {
	case ClassTollFree:
		return r.TollFree
	case ClassShortCode:
		return r.ShortCode
	case ClassAlphanumeric:
		return r.Alphanumeric
	}
	return r.LongCode
}

// parseSenderRates reads "long_code=1,toll_free=3,...": classes not named keep their default.
func parseSenderRates(s string, def SenderRates) (SenderRates, error) {
	out := def
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		name, val, ok := strings.Cut(e, "=")
		rate, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if !ok || err != nil || rate <= 0 {
			return def, fmt.Errorf("%q is not class=messages per second (e.g. long_code=1)", e)
		}
		switch strings.TrimSpace(name) {
		case ClassLongCode:
			out.LongCode = rate
		case ClassTollFree:
			out.TollFree = rate
		case ClassShortCode:
			out.ShortCode = rate
		case ClassAlphanumeric:
			out.Alphanumeric = rate
		default:
			return def, fmt.Errorf("unknown sender class %q (long_code, toll_free, short_code, alphanumeric)", name)
		}
	}
	return out, nil
}

// defaultSenderRates are the usual carrier limits: a long code about 1 message a second, a
// toll-free number 3, a short code 100; alphanumeric ids depend on the carrier's contract.
var defaultSenderRates = SenderRates{LongCode: 1, TollFree: 3, ShortCode: 100, Alphanumeric: 30}

// ParseFrequencyCaps reads "3/24h,10/7d" ("off": none).
func ParseFrequencyCaps(s string) ([]FrequencyCap, error) {
	if strings.EqualFold(strings.TrimSpace(s), "off") {
		return nil, nil
	}
	var out []FrequencyCap
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		n, per, ok := strings.Cut(e, "/")
		max, err := strconv.Atoi(strings.TrimSpace(n))
		d, derr := parseDays(strings.TrimSpace(per))
		if !ok || err != nil || derr != nil || max < 0 || d <= 0 {
			return nil, fmt.Errorf("%q is not messages/period (e.g. 3/24h or 10/7d)", e)
		}
		out = append(out, FrequencyCap{Max: max, Per: d})
	}
	return out, nil
}

// parseSending reads the sending discipline's variables.
func parseSending(get func(string) string) (Sending, []error) {
	var errs []error
	var s Sending
	if d, err := time.ParseDuration(get("WAKE_SPREAD")); err != nil || d < 0 {
		errs = append(errs, fmt.Errorf("WAKE_SPREAD: %q is not a duration (0s: no spread)", get("WAKE_SPREAD")))
	} else {
		s.WakeSpread = d
	}
	rates, err := parseSenderRates(get("SENDER_RATES"), defaultSenderRates)
	if err != nil {
		errs = append(errs, fmt.Errorf("SENDER_RATES: %w", err))
	}
	s.SenderRates = rates
	if d, err := time.ParseDuration(get("PACING_MAX_WAIT")); err != nil || d < 0 {
		errs = append(errs, fmt.Errorf("PACING_MAX_WAIT: %q is not a duration", get("PACING_MAX_WAIT")))
	} else {
		s.PacingMaxWait = d
	}
	if s.FrequencyCaps, err = ParseFrequencyCaps(get("FREQUENCY_CAPS")); err != nil {
		errs = append(errs, fmt.Errorf("FREQUENCY_CAPS: %w", err))
	}
	switch s.FrequencyCapOnExceed = get("FREQUENCY_CAP_ON_EXCEED"); s.FrequencyCapOnExceed {
	case "reject", "defer":
	default:
		errs = append(errs, fmt.Errorf("FREQUENCY_CAP_ON_EXCEED: %q is not reject or defer", s.FrequencyCapOnExceed))
	}
	return s, errs
}

// parseWorker reads the worker's sizes.
func parseWorker(get func(string) string) (Worker, []error) {
	var errs []error
	var w Worker
	for _, v := range []struct {
		name string
		dst  *int
	}{
		{"WORKER_ACTIVITY_SLOTS", &w.ActivitySlots}, {"WORKER_LOCAL_ACTIVITY_SLOTS", &w.LocalActivitySlots},
		{"WORKER_WORKFLOW_TASK_SLOTS", &w.WorkflowTaskSlots}, {"WORKER_ACTIVITY_POLLERS", &w.ActivityPollers},
		{"WORKER_WORKFLOW_POLLERS", &w.WorkflowPollers}, {"WORKER_STICKY_CACHE", &w.StickyCacheSize},
	} {
		n, err := strconv.Atoi(get(v.name))
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive integer", v.name, get(v.name)))
			continue
		}
		*v.dst = n
	}
	// The SDK needs two workflow pollers at least: one for the sticky queue, one for the normal.
	if w.WorkflowPollers == 1 {
		errs = append(errs, fmt.Errorf("WORKER_WORKFLOW_POLLERS: at least 2 (sticky and normal queues)"))
	}
	return w, errs
}

// formatDays writes a whole number of days as "7d", else as a Go duration.
func formatDays(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 && d != 24*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}

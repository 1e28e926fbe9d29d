// Package metrics holds smsflow's Prometheus collectors, registered once in Registry, and the
// handler serving them. Labels are bounded sets (status, country, carrier, channel, policy, route
// template): never a phone number, a message text or an id.
package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds every collector of the process: the business series below, the Temporal SDK's
// (Temporal) and the Go runtime's.
var Registry = prometheus.NewRegistry()

// Buckets of the histograms, in seconds.
var (
	// requestBuckets fit an API answer: milliseconds to a few seconds.
	requestBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// phaseBuckets fit one step of an API answer: a fraction of a millisecond to a second.
	phaseBuckets = []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1}
	// holdBuckets fit a hold: minutes (a quota period) to a week (a weekend plus a holiday).
	holdBuckets = []float64{60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 48 * 3600, 72 * 3600, 7 * 24 * 3600}
)

var (
	// MessageStatuses counts status changes written to the message log.
	MessageStatuses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsflow_message_status_changes_total",
		Help: "Status changes of messages written to the message log, by status, recipient country, carrier and channel.",
	}, []string{"status", "country", "carrier", "channel"})

	// Holds counts messages held before dispatch, by why they wait.
	Holds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsflow_message_holds_total",
		Help: "Messages held before dispatch, by reason (window, scheduled, quota, dispatch_window) and recipient country.",
	}, []string{"reason", "country"})

	// HoldSeconds is how far ahead a held message's wake-up lies when it is held.
	HoldSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "smsflow_message_hold_seconds",
		Help:    "Time from holding a message to its wake-up, observed when it is held, by reason.",
		Buckets: holdBuckets,
	}, []string{"reason"})

	// BreakerState is each carrier's circuit breaker: 0 closed, 1 half-open, 2 open.
	BreakerState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "smsflow_carrier_breaker_state",
		Help: "State of a carrier's circuit breaker: 0 closed, 1 half-open, 2 open.",
	}, []string{"carrier"})

	// HubSpotRequests counts HubSpot API calls (each attempt), by method and answer class.
	HubSpotRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsflow_hubspot_requests_total",
		Help: "HubSpot API calls, each attempt, by method and answer: 2xx, 4xx, 429, 5xx or error (no answer).",
	}, []string{"method", "code"})

	// HubSpotRateLimited counts HubSpot's 429 answers by the limit's policy.
	HubSpotRateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsflow_hubspot_rate_limited_total",
		Help: "HubSpot 429 answers by policy (TEN_SECONDLY_ROLLING, SECONDLY, DAILY, other).",
	}, []string{"policy"})

	// InboundStored counts webhook events (carrier reports, replies, clicks, unsubscribes) stored
	// for the first time.
	InboundStored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsflow_inbound_events_stored_total",
		Help: "Inbound events stored for the first time, by kind (delivery, reply, click, unsubscribe).",
	}, []string{"kind"})

	// InboundSignalled counts stored events whose signal is done with, by how it ended and who
	// delivered it.
	InboundSignalled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsflow_inbound_signals_total",
		Help: "Signals of stored inbound events recorded as done, by signal, result (signalled, gone, refused) and path (webhook: at once; sweeper: from the outbox).",
	}, []string{"signal", "result", "path"})

	// SignalsOwed is the outbox lag: stored events whose signal is not delivered yet.
	SignalsOwed = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "smsflow_inbound_signals_owed",
		Help: "Stored inbound events whose signal is not delivered yet (the signal outbox's backlog), sampled by the worker.",
	})

	// HTTPDuration is the API's answer time per route template.
	HTTPDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "smsflow_http_request_duration_seconds",
		Help:    "Time the API took to answer, by method, route template and status code.",
		Buckets: requestBuckets,
	}, []string{"method", "route", "code"})

	// ActionAcceptPhase is where the answer to a HubSpot action execution spends its time.
	ActionAcceptPhase = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "smsflow_action_accept_phase_seconds",
		Help: "Time of each step of accepting a HubSpot action execution: verify (read the body, check the signature), " +
			"validate (decode, check the inputs), previous (look up an earlier outcome of the callbackId), start (start the message workflow).",
		Buckets: phaseBuckets,
	}, []string{"phase"})
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		MessageStatuses, Holds, HoldSeconds, BreakerState, HubSpotRequests, HubSpotRateLimited,
		InboundStored, InboundSignalled, SignalsOwed, HTTPDuration, ActionAcceptPhase, temporalSeries,
		CarrierHealth, CarrierTrafficShare, CarrierSlowReports, CarrierErrors, CarrierHealthChanges)
}

// Country is a country label: an ISO 3166 alpha-2 code, or "unknown" for anything else.
func Country(s string) string {
	if len(s) == 2 && isUpper(s[0]) && isUpper(s[1]) {
		return s
	}
	if len(s) == 2 {
		if u := strings.ToUpper(s); isUpper(u[0]) && isUpper(u[1]) {
			return u
		}
	}
	return "unknown"
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// OneOf is v when it is one of known, else "other": a label fed by an outside value stays a
// bounded set.
func OneOf(v string, known ...string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return "other"
}

// Or is v, or fallback when v is empty.
func Or(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}

// Carrier health (carrier/health): what each worker last read of the carriers' figures.
var (
	// CarrierHealth is each carrier's health: 0 healthy, 1 recovering, 2 degraded.
	CarrierHealth = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "smsflow_carrier_health",
		Help: "Health of a carrier judged on its delivery-report delays and call errors: 0 healthy, 1 recovering, 2 degraded.",
	}, []string{"carrier"})

	// CarrierTrafficShare is the share of new messages sent to each carrier first.
	CarrierTrafficShare = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "smsflow_carrier_traffic_share",
		Help: "Share of new messages dispatched to a carrier first (primary and secondary add up to 1).",
	}, []string{"carrier"})

	// CarrierSlowReports is the share of a carrier's judged messages without a final delivery
	// report in time.
	CarrierSlowReports = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "smsflow_carrier_slow_report_ratio",
		Help: "Share of a carrier's recently accepted messages whose final delivery report came late or not yet.",
	}, []string{"carrier"})

	// CarrierErrors is the share of a carrier's recent calls that failed (temporary,
	// rate-limited or uncertain).
	CarrierErrors = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "smsflow_carrier_error_ratio",
		Help: "Share of a carrier's recent calls that failed temporarily, were rate limited or ended uncertain.",
	}, []string{"carrier"})

	// CarrierHealthChanges counts health changes by the state entered.
	CarrierHealthChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsflow_carrier_health_changes_total",
		Help: "Changes of a carrier's health, by the state entered (healthy, recovering, degraded).",
	}, []string{"carrier", "state"})
)

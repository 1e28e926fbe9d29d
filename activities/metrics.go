package activities

import (
	"time"

	"smsflow/metrics"
	"smsflow/outcome"
)

// countStatus counts a status change written to the message log.
func countStatus(ev StatusEvent) {
	metrics.MessageStatuses.WithLabelValues(string(ev.Status), metrics.Country(ev.Country), metrics.Or(ev.Carrier, "none"),
		metrics.OneOf(channelOr(ev.Channel), string(outcome.SMS), string(outcome.Voice), string(outcome.IVR))).Inc()
}

// Reasons a message is held, as the hold metrics name them.
const (
	holdWindow         = "window"          // the country's sending window is closed
	holdScheduled      = "scheduled"       // the action's send_at lies ahead
	holdQuota          = "quota"           // a quota with on_exceed "defer" is reached
	holdDispatchWindow = "dispatch_window" // the window closed while the message waited or was retried
	holdPacing         = "pacing"          // its sender's next send slot is further than a dispatch waits
	holdFrequency      = "frequency"       // the recipient's frequency cap is reached, with "defer"
)

// countHold counts a message held until wake, for reason.
func countHold(reason, country string, wake time.Time) {
	metrics.Holds.WithLabelValues(reason, metrics.Country(country)).Inc()
	metrics.HoldSeconds.WithLabelValues(reason).Observe(max(time.Until(wake).Seconds(), 0))
}

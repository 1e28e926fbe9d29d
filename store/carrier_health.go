package store

import (
	"context"
	"fmt"
	"time"

	"smsflow/outcome"
)

// CarrierWindow says which of a carrier's recent attempts CarrierStats looks at.
type CarrierWindow struct {
	// SlowAfter: an accepted message whose final delivery report came later than this (or has
	// not come yet) is slow. Acceptances younger than SlowAfter are not judged yet.
	SlowAfter time.Duration
	// Reports: acceptances of the last Reports are judged on their reports.
	Reports time.Duration
	// Errors: calls finished in the last Errors are counted for the error rate.
	Errors time.Duration
	// Sample bounds each count to the newest Sample attempts, so that the query costs the same
	// at any volume.
	Sample int
}

// CarrierStats are a carrier's recent figures, shared by every worker.
type CarrierStats struct {
	Judged int // accepted messages judged on their delivery reports
	Slow   int // of Judged: without a final report within SlowAfter
	Calls  int // carrier calls finished in the error window (a breaker's refusal is no call)
	Errors int // of Calls: temporary, rate-limited or uncertain failures
}

// finalReports are the delivery reports that end the delivery wait (outcome.Report.Final).
var finalReports = []string{string(outcome.ReportDelivered), string(outcome.ReportUndelivered), string(outcome.ReportFailed)}

// CarrierStats reads carrierName's delivery-report delays and call errors as of now, from the
// dispatch attempts and the stored delivery reports.
func (s *Store) CarrierStats(ctx context.Context, carrierName string, now time.Time, w CarrierWindow) (CarrierStats, error) {
	var st CarrierStats
	err := s.Pool.QueryRow(ctx, `WITH judged AS (
	SELECT message_id, finished_at FROM dispatch_attempts
	WHERE carrier = $1 AND state = 'accepted' AND finished_at > $2::timestamptz - $3 * interval '1 millisecond' AND finished_at <= $2::timestamptz - $4 * interval '1 millisecond'
	ORDER BY finished_at DESC LIMIT $6
), calls AS (
	SELECT state, error_class FROM dispatch_attempts
	WHERE carrier = $1 AND finished_at > $2::timestamptz - $5 * interval '1 millisecond' AND finished_at <= $2
	AND state IN ('accepted', 'failed', 'uncertain', 'partial') AND error_class <> 'breaker-open'
	ORDER BY finished_at DESC LIMIT $6
)
SELECT (SELECT count(*) FROM judged),
	(SELECT count(*) FROM judged j WHERE NOT EXISTS (SELECT 1 FROM message_events e
		WHERE e.message_id = j.message_id AND e.kind = 'delivery' AND e.status = ANY($7)
		AND e.received_at <= j.finished_at + $4 * interval '1 millisecond')),
	(SELECT count(*) FROM calls),
	(SELECT count(*) FROM calls WHERE state IN ('failed', 'uncertain') AND error_class IN ('temporary', 'rate-limited', 'uncertain'))`,
		carrierName, now, w.Reports.Milliseconds(), w.SlowAfter.Milliseconds(), w.Errors.Milliseconds(), w.Sample,
		finalReports).Scan(&st.Judged, &st.Slow, &st.Calls, &st.Errors)
	if err != nil {
		return CarrierStats{}, fmt.Errorf("store: carrier stats of %s: %w", carrierName, err)
	}
	return st, nil
}

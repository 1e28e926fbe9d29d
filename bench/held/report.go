package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"smsflow/bench/internal/benchstack"
	"smsflow/bench/internal/openloop"
	"smsflow/hubspot/hubspottest"
	"smsflow/internal/harness"
	"smsflow/workflows"
)

// row prints one line of the results table.
func row(name string, value any, target string) {
	fmt.Printf("  %-48s %-24v %s\n", name, value, target)
}

func (b *bench) report(ctx context.Context, d drained, trickle openloop.Result) error {
	fmt.Printf("\nresults, %d held messages (window opened at %s)\n", b.o.n, b.opening.Format(time.TimeOnly))
	if d.timedOut {
		fmt.Printf("  STOPPED by -timeout %v: %d of %d held actions completed; the figures below are the drain so far\n", b.o.timeout, d.completed, b.o.n)
	}

	// Dispatch, from the message log.
	var dispatched int
	var firstSent, lastSent *time.Time
	if err := b.s.DB.Pool.QueryRow(ctx, `SELECT count(sent_at), min(sent_at), max(sent_at) FROM messages WHERE callback_id LIKE 'held-%'`).
		Scan(&dispatched, &firstSent, &lastSent); err != nil {
		return err
	}
	var lastWrite *time.Time
	if err := b.s.DB.Pool.QueryRow(ctx, `SELECT max(o.done_at) FROM hubspot_outbox o JOIN messages m ON m.id = o.message_id
		WHERE m.callback_id LIKE 'held-%'`).Scan(&lastWrite); err != nil {
		return err
	}
	sinceOpening := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Sub(b.opening).Round(100 * time.Millisecond).String()
	}
	row("dispatched to the carrier", fmt.Sprintf("%d / %d", dispatched, b.o.n), "")
	row("opening → first dispatch", sinceOpening(firstSent), "")
	row("opening → last dispatch", sinceOpening(lastSent), "")
	lastCompleted := (*time.Time)(nil)
	if !d.lastCompleted.IsZero() {
		lastCompleted = &d.lastCompleted
	}
	row("opening → last action completed (callback)", sinceOpening(lastCompleted), "")
	row("opening → last HubSpot write done (outbox)", sinceOpening(lastWrite), "")
	end := d.synced
	if end.IsZero() {
		end = time.Now()
	}
	rate := float64(d.completed) / end.Sub(b.opening).Seconds()
	if d.timedOut {
		row("messages/s per portal completed HubSpot-side", fmt.Sprintf("%.2f (so far)", rate), "target ≥ 20")
	} else {
		row("messages/s per portal completed HubSpot-side", fmt.Sprintf("%.2f", rate), "target ≥ 20")
	}

	// Failures.
	failed, err := b.failedWorkflows(ctx)
	if err != nil {
		return err
	}
	row("failed workflows (failed, timed out, terminated)", failed, "must be 0")
	if len(d.notDelivered) > 0 {
		row("held actions completed other than DELIVERED", fmt.Sprint(d.notDelivered), "")
	}

	// History.
	h, err := b.histories(ctx)
	if err != nil {
		return err
	}
	row("history events per message p50 / p99 / max", fmt.Sprintf("%d / %d / %d", h.p50, h.p99, h.max), "p99 ≤ 40")
	row("  histories read", h.sampled, "")

	// Memory.
	perMsg := func(after, before int64) string {
		return fmt.Sprintf("%.1f KiB", float64(after-before)/float64(b.o.n)/1024)
	}
	row("process RSS at start / all held / drain peak", fmt.Sprintf("%d / %d / %d MiB", b.memBase.RSS>>20, b.memHeld.RSS>>20, b.peakRSS.Load()>>20), "")
	row("RSS per held message", perMsg(b.memHeld.RSS, b.memBase.RSS), "")
	row("Go heap in use per held message", perMsg(int64(b.memHeld.heap), int64(b.memBase.heap)), "")

	// HubSpot: the held portal's calls (the trickle's portal has its own budget).
	var calls []hubspottest.Call
	trickleCalls := 0
	for _, c := range b.s.HubSpot.Calls()[b.callsBefore:] {
		switch c.PortalID {
		case harness.Portal:
			calls = append(calls, c)
		case tricklePortal:
			trickleCalls++
		}
	}
	limited := 0
	for _, c := range calls {
		if c.Status == 429 {
			limited++
		}
	}
	changes, byStatus, err := b.statusChanges(ctx)
	if err != nil {
		return err
	}
	callsPerMessage := float64(len(calls)) / float64(max(d.completed, 1))
	row("HubSpot calls of the held portal", len(calls), "")
	row("its status changes in the message log", fmt.Sprintf("%d %v", changes, byStatus), "")
	row("HubSpot calls per status change", fmt.Sprintf("%.2f", float64(len(calls))/float64(max(changes, 1))), "target ≤ 0.2")
	row("HubSpot calls per held message", fmt.Sprintf("%.2f", callsPerMessage), "")
	row("HubSpot 429 answers", limited, "must be 0")

	// Accept latency while draining.
	if trickle.Sent > 0 {
		row("trickle sends during the drain (open loop)", fmt.Sprintf("%d at %g/s, %d refused", trickle.Sent, b.o.trickle, trickle.Errors), "another portal")
		row("  accept latency p50 / p90 / p99", fmt.Sprintf("%v / %v / %v", ms(trickle.Quantile(0.5)), ms(trickle.Quantile(0.9)), ms(trickle.Quantile(0.99))), "")
	}

	fmt.Printf("\nHubSpot calls of the held portal by endpoint (the trickle's portal: %d more):\n", trickleCalls)
	for _, e := range byEndpoint(calls) {
		fmt.Printf("  %7d  %s\n", e.n, e.name)
	}
	if len(h.types) > 0 {
		fmt.Printf("\nhistory of one held, delivered message (%s), %d events:\n", h.typesOf, len(h.types))
		fmt.Println("  " + strings.Join(runLengths(h.types), ", "))
	}
	accepted := float64(len(calls) - limited) // the calls the budget let through
	b.project(rate, accepted/float64(max(d.completed, 1)), accepted/end.Sub(b.opening).Seconds(), h)
	if d.timedOut {
		return fmt.Errorf("the drain did not finish within -timeout %v", b.o.timeout)
	}
	return nil
}

// stickyCacheSize is the Temporal SDK's default workflow cache (worker.SetStickyWorkflowCacheSize),
// which the worker keeps: a held run stays in it until evicted.
const stickyCacheSize = 10_000

// project scales the run to 1,000,000 held messages of one portal.
func (b *bench) project(rate, callsPerMessage, callsPerSecond float64, h histories) {
	const million = 1_000_000
	fmt.Println("\nprojection to 1,000,000 held messages of one portal (linear in the measured figures):")
	if rate > 0 {
		fmt.Printf("  drain at the measured %.2f messages/s: %v\n", rate, (time.Duration(million/rate) * time.Second).Round(time.Minute))
	}
	budget := float64(b.o.hubspotLimit) / 10
	if budget > 0 && callsPerMessage > 0 {
		ceiling := budget / callsPerMessage
		fmt.Printf("  HubSpot budget ceiling: %.0f calls/s ÷ %.2f answered calls per message (429s left out) = %.1f messages/s → %v at best\n",
			budget, callsPerMessage, ceiling, (time.Duration(million/ceiling) * time.Second).Round(time.Minute))
		used := callsPerSecond / budget
		fmt.Printf("  HubSpot budget used during the drain: %.1f answered calls/s of %.0f (%.0f %%)\n", callsPerSecond, budget, 100*used)
		if used >= 0.8 {
			fmt.Println("  limits first: the HubSpot budget (≥ 80 % used): fewer calls per message (batching) is what raises the rate")
		} else {
			fmt.Println("  limits first: the stack itself (the budget is not used up): workflow and activity throughput, the outbox sender, PostgreSQL or the dev server — see the progress lines and the history above")
		}
	}
	perMsg := float64(b.memHeld.RSS-b.memBase.RSS) / float64(b.o.n)
	cached := min(million, stickyCacheSize)
	fmt.Printf("  memory: %.1f KiB of RSS per held run in the worker's cache; the cache keeps at most %d runs (%.1f GiB), the others are evicted and replayed at their wake-up\n",
		perMsg/1024, cached, perMsg*float64(cached)/(1<<30))
	if b.o.n > stickyCacheSize {
		fmt.Printf("  (this run held more than the cache: the figure per message is diluted by the evicted runs)\n")
	}
	fmt.Printf("  history: %.0f million events at the p50 of %d per message; HubSpot calls answered: %.1f million\n",
		float64(h.p50)*million/1e6, h.p50, callsPerMessage*million/1e6)
}

type histories struct {
	sampled       string
	p50, p99, max int
	types         []string
	typesOf       string
}

// histories reads the histories of a sample of held messages (or all), once each run has closed.
func (b *bench) histories(ctx context.Context) (histories, error) {
	ids := make([]int, b.o.n)
	for i := range ids {
		ids[i] = i
	}
	h := histories{sampled: fmt.Sprintf("all %d", b.o.n)}
	if b.o.historySample > 0 && b.o.historySample < b.o.n {
		rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		ids = ids[:b.o.historySample]
		h.sampled = fmt.Sprintf("a random %d of %d", b.o.historySample, b.o.n)
	}
	var lengths []int
	for _, i := range ids {
		cb := heldCallback(i)
		if b.s.HubSpot.Completed(cb) == nil {
			continue // still running (a timed-out drain): its history is not final
		}
		id := workflows.SMSWorkflowID(workflows.MessageIDForCallback(harness.Portal, cb))
		wait, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := b.tc.GetWorkflow(wait, id, "").Get(wait, nil)
		cancel()
		if err != nil {
			return h, fmt.Errorf("%s: %w", id, err)
		}
		events, err := benchstack.History(ctx, b.tc, id)
		if err != nil {
			return h, err
		}
		lengths = append(lengths, len(events))
		if h.types == nil {
			h.typesOf = cb
			for _, ev := range events {
				h.types = append(h.types, strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_"))
			}
		}
	}
	slices.Sort(lengths)
	if len(lengths) > 0 {
		h.p50, h.p99, h.max = openloop.Quantile(lengths, 0.5), openloop.Quantile(lengths, 0.99), lengths[len(lengths)-1]
	}
	h.sampled += fmt.Sprintf(" (%d closed)", len(lengths))
	return h, nil
}

// failedWorkflows counts the stack's message workflows that closed other than completed.
func (b *bench) failedWorkflows(ctx context.Context) (int64, error) {
	var total int64
	for _, status := range []string{"Failed", "TimedOut", "Terminated"} {
		n, err := benchstack.CountWorkflows(ctx, b.tc, fmt.Sprintf("TaskQueue = '%s' AND WorkflowType = '%s' AND ExecutionStatus = '%s'",
			b.queue, workflows.SendSMSName, status))
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// statusChanges counts the held portal's status events of the message log, in all and by status.
func (b *bench) statusChanges(ctx context.Context) (int, map[string]int, error) {
	rows, err := b.s.DB.Pool.Query(ctx, `SELECT e.status, count(*) FROM message_events e JOIN messages m ON m.id = e.message_id
		WHERE e.kind = 'status' AND m.portal_id = $1 GROUP BY e.status`, harness.Portal)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	total, by := 0, map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return 0, nil, err
		}
		by[st], total = n, total+n
	}
	return total, by, rows.Err()
}

type endpointCount struct {
	name string
	n    int
}

// version is an API version segment (v3), kept when ids are replaced.
var version = regexp.MustCompile(`^v[0-9]+$`)

// byEndpoint counts calls by method and path with ids replaced, most called first.
func byEndpoint(calls []hubspottest.Call) []endpointCount {
	counts := map[string]int{}
	for _, c := range calls {
		segs := strings.Split(c.Path, "/")
		for i, seg := range segs {
			if strings.ContainsAny(seg, "0123456789") && !version.MatchString(seg) {
				segs[i] = "{id}"
			}
		}
		p := strings.Join(segs, "/")
		name := c.Method + " " + p
		if c.Status == 429 {
			name += " → 429"
		}
		counts[name]++
	}
	out := make([]endpointCount, 0, len(counts))
	for k, v := range counts {
		out = append(out, endpointCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n > out[j].n || out[i].n == out[j].n && out[i].name < out[j].name })
	return out
}

// runLengths writes repeated consecutive types once with their count.
func runLengths(types []string) []string {
	var out []string
	for i := 0; i < len(types); {
		j := i
		for j < len(types) && types[j] == types[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s×%d", types[i], j-i))
		} else {
			out = append(out, types[i])
		}
		i = j
	}
	return out
}

func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

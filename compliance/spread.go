package compliance

import (
	"hash/fnv"
	"time"
)

// OpenFor is how long a message of category c to r may still be sent from at, counted up to
// limit: 0 when the window is closed at at, limit when it stays open at least that long (always
// for transactional messages and countries without hours).
func (t *Table) OpenFor(at time.Time, r Recipient, c Category, limit time.Duration) (time.Duration, error) {
	if c != Marketing && c != Transactional {
		return 0, ErrCategory
	}
	rule, ok := t.Rule(r.Country)
	if !ok || c == Transactional || (rule.Hours == nil && !rule.ClosedOnHolidays) {
		return limit, nil
	}
	ev, _, err := newEvaluator(rule, r.Timezones)
	if err != nil {
		return 0, err
	}
	end := at.Add(limit)
	for cur := at; cur.Before(end); cur = ev.nextChange(cur) {
		if !ev.allowed(cur) {
			return cur.Sub(at), nil
		}
	}
	return limit, nil
}

// SpreadOffset is key's place in a span, in [0, span): a hash of the key (a message id), so the
// same message always gets the same offset and many messages waking at one instant are spread
// evenly over the span instead. Millisecond steps.
func SpreadOffset(key string, span time.Duration) time.Duration {
	steps := uint64(span / time.Millisecond)
	if steps == 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return time.Duration(h.Sum64()%steps) * time.Millisecond
}

// Spread moves a wake-up at wake (an opening of the window or a quota period's start) by key's
// offset within span, so that the messages waking together do not all wake at the same instant.
// The span shrinks to what stays of the window after wake, so the moved wake-up is still inside
// the window it was computed for.
func (t *Table) Spread(wake time.Time, key string, span time.Duration, r Recipient, c Category) (time.Time, error) {
	if span <= 0 {
		return wake, nil
	}
	open, err := t.OpenFor(wake, r, c, span)
	if err != nil {
		return wake, err
	}
	return wake.Add(SpreadOffset(key, open)), nil
}

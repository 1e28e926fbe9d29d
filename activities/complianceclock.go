package activities

import "time"

// ComplianceClock places the instants the country windows are evaluated at. The zero value is
// the real clock, as in production. Tests set Shift to place a real run at a chosen wall time (a
// Sunday evening in Paris) and Speed to let a night go by in seconds: at the real instant t the
// windows see Origin + Shift + (t − Origin) × Speed, and a window's opening is mapped back to the
// real instant the workflow's timer waits for.
type ComplianceClock struct {
	Shift  time.Duration
	Origin time.Time
	Speed  float64 // compliance seconds per real second; 0 or 1: the real pace
}

// At is the compliance instant of the real instant t.
func (c ComplianceClock) At(t time.Time) time.Time {
	if c.Speed == 0 || c.Speed == 1 {
		return t.Add(c.Shift)
	}
	return c.Origin.Add(c.Shift + time.Duration(float64(t.Sub(c.Origin))*c.Speed))
}

// Real is the real instant at which the compliance clock shows v.
func (c ComplianceClock) Real(v time.Time) time.Time {
	if c.Speed == 0 || c.Speed == 1 {
		return v.Add(-c.Shift)
	}
	return c.Origin.Add(time.Duration(float64(v.Sub(c.Origin)-c.Shift) / c.Speed))
}

package activities

import (
	"testing"
	"time"
)

func TestComplianceClockMapsBothWays(t *testing.T) {
	origin := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, c := range []ComplianceClock{{}, {Shift: 9 * time.Hour}, {Shift: -3 * time.Hour, Origin: origin, Speed: 1200}} {
		real := origin.Add(90 * time.Second)
		if back := c.Real(c.At(real)); back.Sub(real).Abs() > time.Microsecond {
			t.Errorf("%+v: Real(At(t)) = %v, want %v", c, back, real)
		}
	}
	fast := ComplianceClock{Shift: time.Hour, Origin: origin, Speed: 1200}
	if got, want := fast.At(origin.Add(3*time.Second)), origin.Add(time.Hour+time.Hour); !got.Equal(want) {
		t.Errorf("3 s at 1200× = %v on the compliance clock, want %v (an hour later)", got, want)
	}
	if got := (ComplianceClock{}).At(origin); !got.Equal(origin) {
		t.Errorf("the zero clock moved time: %v", got)
	}
}

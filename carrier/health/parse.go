package health

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseThresholds reads CARRIER_HEALTH: "off" (traffic moves to the secondary only while the
// primary's breaker is open), or "key=value,…" with keys slow, slow_after, window, errors,
// error_window, min, sample, probe, ramp, refresh (shares as 0.15 or 15%, slow=off and
// errors=off turn one rule off). Keys left out keep DefaultThresholds.
func ParseThresholds(s string) (th Thresholds, on bool, err error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return Thresholds{}, false, nil
	}
	th = DefaultThresholds
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return th, false, fmt.Errorf("health: %q is not key=value", kv)
		}
		switch k {
		case "slow":
			th.SlowShare, err = parseShare(v, true)
		case "errors":
			th.ErrorShare, err = parseShare(v, true)
		case "probe":
			th.ProbeShare, err = parseShare(v, false)
			if err == nil && th.ProbeShare == 0 {
				err = fmt.Errorf("must be above 0: a degraded primary without traffic never shows its recovery")
			}
		case "slow_after":
			th.SlowAfter, err = parseDuration(v)
		case "window":
			th.ReportWindow, err = parseDuration(v)
		case "error_window":
			th.ErrorWindow, err = parseDuration(v)
		case "ramp":
			th.Ramp, err = parseDuration(v)
		case "refresh":
			th.Refresh, err = parseDuration(v)
		case "min":
			th.MinSamples, err = parsePositive(v)
		case "sample":
			th.Sample, err = parsePositive(v)
		default:
			return th, false, fmt.Errorf("health: unknown key %q", k)
		}
		if err != nil {
			return th, false, fmt.Errorf("health: %s=%q: %v", k, v, err)
		}
	}
	if th.ReportWindow <= th.SlowAfter {
		return th, false, fmt.Errorf("health: window (%s) must be longer than slow_after (%s): no message would be judged", th.ReportWindow, th.SlowAfter)
	}
	return th, true, nil
}

// parseShare reads 0.15 or 15% (in [0, 1]); "off", where allowed, is -1.
func parseShare(v string, offAllowed bool) (float64, error) {
	if offAllowed && v == "off" {
		return -1, nil
	}
	scale := 1.0
	if p, ok := strings.CutSuffix(v, "%"); ok {
		v, scale = p, 100
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, err
	}
	if f /= scale; f < 0 || f > 1 {
		return 0, fmt.Errorf("not a share between 0 and 1 (or 0%% and 100%%)")
	}
	return f, nil
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err == nil && d <= 0 {
		err = fmt.Errorf("not a positive duration")
	}
	return d, err
}

func parsePositive(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err == nil && n <= 0 {
		err = fmt.Errorf("not a positive integer")
	}
	return n, err
}

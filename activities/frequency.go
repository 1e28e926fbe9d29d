package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"smsflow/compliance"
	"smsflow/config"
	"smsflow/outcome"
	"smsflow/store"
)

// Portal settings of the frequency cap.
const (
	// SettingFrequencyCaps overrides FREQUENCY_CAPS for the portal: "3/24h,10/7d", or "off".
	SettingFrequencyCaps = "frequency_caps"
	// SettingFrequencyCapOnExceed overrides FREQUENCY_CAP_ON_EXCEED: "reject" or "defer".
	SettingFrequencyCapOnExceed = "frequency_cap_on_exceed"
)

// checkFrequency counts a marketing message against its recipient's frequency caps in this
// portal (transactional messages are not capped), right before dispatch. Over a cap the message
// ends NOT_SENT FREQUENCY_CAPPED, or, where the portal defers, waits until the cap frees (inside
// its window). nil: the message may go, and is counted.
func (a *Activities) checkFrequency(ctx context.Context, in DispatchCheckInput, settings map[string]any) (*DispatchCheck, error) {
	if c, err := compliance.ParseCategory(in.MessageType); err != nil || c != compliance.Marketing || in.Phone == "" {
		return nil, nil
	}
	caps, onExceed := a.frequencyCaps(settings)
	if len(caps) == 0 {
		return nil, nil
	}
	d, err := a.Store.CountFrequency(ctx, in.MessageID, in.PortalID, PhoneHash(a.Config.PhoneHashKey, in.Phone), caps, in.Now)
	if err != nil || d.OK {
		return nil, err
	}
	what := fmt.Sprintf("the recipient already got %d marketing SMS from this account in the last %s (at most %s)",
		d.Count, periodText(d.Cap.Per), config.FrequencyCap(d.Cap))
	if onExceed == "defer" && !d.FreesAt.IsZero() {
		wake, why := a.windowWake(d.FreesAt, in)
		countHold(holdFrequency, in.Country, wake)
		return &DispatchCheck{DeferUntil: &wake, DeferReason: what + "; deferred until the cap frees" + why}, nil
	}
	return &DispatchCheck{ErrorCode: outcome.FrequencyCapped, ErrorMessage: what}, nil
}

// frequencyCaps are the portal's caps and what a capped message does: the portal's settings,
// else the deployment's (Config.Sending). A setting that does not parse keeps the deployment's.
func (a *Activities) frequencyCaps(settings map[string]any) ([]store.FrequencyCap, string) {
	caps, onExceed := a.Config.Sending.FrequencyCaps, a.Config.Sending.FrequencyCapOnExceed
	if v, ok := settings[SettingFrequencyCaps].(string); ok {
		if parsed, err := config.ParseFrequencyCaps(v); err == nil {
			caps = parsed
		}
	}
	if v, ok := settings[SettingFrequencyCapOnExceed].(string); ok && (v == "reject" || v == "defer") {
		onExceed = v
	}
	out := make([]store.FrequencyCap, len(caps))
	for i, c := range caps {
		out[i] = store.FrequencyCap(c)
	}
	return out, onExceed
}

// periodText writes a period for a person: "24 hours", "7 days".
func periodText(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d > 24*time.Hour:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return strings.TrimSuffix(d.String(), "0s")
}

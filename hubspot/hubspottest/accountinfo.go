package hubspottest

import "net/http"

// SetTimeZone sets a portal's time zone setting.
func (f *Fake) SetTimeZone(portalID int64, tz string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timeZones[portalID] = tz
}

// accountInfo is GET /account-info/v3/details (and the older /integrations/v1/me): the portal's
// details, with its time zone (UTC unless set).
func (f *Fake) accountInfo(w http.ResponseWriter, _ *http.Request, portal int64, _ []byte) {
	f.mu.Lock()
	tz := f.timeZones[portal]
	f.mu.Unlock()
	if tz == "" {
		tz = "UTC"
	}
	writeJSON(w, 200, map[string]any{"portalId": portal, "timeZone": tz, "accountType": "STANDARD", "companyCurrency": "EUR",
		"additionalCurrencies": []string{}, "uiDomain": "app.hubspot.com", "dataHostingLocation": "eu1"})
}

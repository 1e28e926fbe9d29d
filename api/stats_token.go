package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// statsLinkTTL is how long a statistics link answers: long enough to read the page and download
// its exports, short enough that a link copied out of HubSpot soon stops opening the portal's data.
const statsLinkTTL = time.Hour

// errStatsToken: the request carries no valid statistics token.
var errStatsToken = errors.New("missing, forged or expired statistics link")

// statsToken signs and checks the statistics links of a portal: ?portal=&exp=&sig=, sig being an
// HMAC-SHA256 of the portal and the expiry. Its key is derived from the HubSpot app's client
// secret (which already authenticates the card asking for a link), so a deployment has no new
// secret to keep, and rotating the client secret voids every link.
type statsToken struct {
	key []byte
}

// newStatsToken derives the link key from the client secret; an empty secret gives a token that
// signs and accepts nothing.
func newStatsToken(clientSecret string) statsToken {
	if clientSecret == "" {
		return statsToken{}
	}
	m := hmac.New(sha256.New, []byte(clientSecret))
	m.Write([]byte("smsflow statistics links v1"))
	return statsToken{key: m.Sum(nil)}
}

func (t statsToken) sign(portalID int64, exp int64) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(strconv.FormatInt(portalID, 10) + "\n" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// query returns the link's query (portal, exp, sig) for a portal, valid until now+statsLinkTTL.
func (t statsToken) query(portalID int64, now time.Time) (url.Values, time.Time, error) {
	if len(t.key) == 0 {
		return nil, time.Time{}, errors.New("statistics links need HUBSPOT_CLIENT_SECRET")
	}
	exp := now.Add(statsLinkTTL).Truncate(time.Second)
	q := url.Values{}
	q.Set("portal", strconv.FormatInt(portalID, 10))
	q.Set("exp", strconv.FormatInt(exp.Unix(), 10))
	q.Set("sig", t.sign(portalID, exp.Unix()))
	return q, exp, nil
}

// verify returns the portal a query's token opens.
func (t statsToken) verify(q url.Values, now time.Time) (int64, error) {
	if len(t.key) == 0 {
		return 0, errStatsToken
	}
	portal, err := strconv.ParseInt(q.Get("portal"), 10, 64)
	if err != nil || portal <= 0 {
		return 0, errStatsToken
	}
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil || now.Unix() > exp || exp > now.Add(statsLinkTTL+time.Minute).Unix() {
		return 0, errStatsToken
	}
	if !hmac.Equal([]byte(q.Get("sig")), []byte(t.sign(portal, exp))) {
		return 0, errStatsToken
	}
	return portal, nil
}

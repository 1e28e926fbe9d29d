package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"smsflow/carrier/sim"
	"smsflow/hubspot"
	"smsflow/internal/harness"
	"smsflow/outcome"
	"smsflow/store"
)

// statsGet fetches an API path with the statistics link's query and returns the body.
func statsGet(t *testing.T, s *stack, path string, link url.Values, extra url.Values) []byte {
	t.Helper()
	q := url.Values{}
	for k := range link {
		q.Set(k, link.Get(k))
	}
	for k, vs := range extra {
		q[k] = vs
	}
	resp, err := http.Get(s.apiURL + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	return body
}

// A campaign sent through the whole stack — delivered, not delivered, clicked, not sent — reads
// back in its figures, its audit and its remarketing list as the messages' workflows ended.
func TestCampaignStatisticsEndToEnd(t *testing.T) {
	// Each message's fate is the simulator's roll for its id (fixed by its callback id and the
	// seed): about half undelivered; every delivered message with a link is clicked.
	s := newStack(t, stackOptions{sim: sim.Options{Seed: 11, Undelivered: 0.5, Click: 1}})
	const campaign = "e2e-spring"
	type sent struct {
		contact string
		id      string
		link    bool
	}
	var msgs []sent
	for i := 21; i <= 28; i++ {
		id := strconv.Itoa(900 + i)
		contact(s, id, "+336123456"+strconv.Itoa(i))
		in := inputs("campaign_name", campaign, "wait_for", "delivery")
		link := i%2 == 0
		if link {
			in = inputs("campaign_name", campaign, "wait_for", "click", "shorten_urls", "true",
				"message", "Spring sale: https://shop.example.com/spring")
		}
		n, _ := strconv.ParseInt(id, 10, 64)
		msgs = append(msgs, sent{contact: id, id: send(t, s, "cb-stats-"+id, n, in), link: link})
	}
	// A record without a phone: NOT_SENT.
	s.hubspot.SetObject(portal, "contacts", "929", map[string]string{"firstname": "No", "lastname": "Phone"})
	msgs = append(msgs, sent{contact: "929", id: send(t, s, "cb-stats-929", 929, inputs("campaign_name", campaign))})

	var want store.Figures
	var deliveredNotClicked []string
	for _, m := range msgs {
		res := s.result(m.id)
		want.Messages++
		switch res.Status {
		case outcome.SMSNotSent:
			want.NotSent++
			continue
		case outcome.SMSNotDelivered:
			want.NotDelivered++
		case outcome.SMSDelivered:
			want.Delivered++
			deliveredNotClicked = append(deliveredNotClicked, m.contact)
		case outcome.SMSClicked:
			want.Delivered++
			want.Clicked++
		default:
			t.Fatalf("message to %s ended %s", m.contact, res.Status)
		}
		want.Sent++
		msg, err := s.db.GetMessage(context.Background(), m.id)
		if err != nil {
			t.Fatal(err)
		}
		want.Parts += int64(msg.Segments)
	}
	if want.Delivered == 0 || want.NotDelivered == 0 || want.Clicked == 0 || want.NotSent != 1 || len(deliveredNotClicked) == 0 {
		t.Fatalf("the run's outcomes %+v lack a lifecycle this test checks (change the seed)", want)
	}
	slices.Sort(deliveredNotClicked)

	// The card asks for a link (signed by HubSpot), as its button does.
	linkURL := s.apiURL + "/v1/stats/link?portalId=" + strconv.FormatInt(portal, 10) + "&campaign=" + campaign
	req, _ := http.NewRequest(http.MethodGet, linkURL, nil)
	hubspot.SignRequest(req, harness.ClientSecret, linkURL, nil, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		URL string `json:"url"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	page, err := url.Parse(answer.URL)
	if resp.StatusCode != http.StatusOK || err != nil || !strings.HasPrefix(answer.URL, s.apiURL+"/stats?") {
		t.Fatalf("card link: %d %q", resp.StatusCode, answer.URL)
	}
	link := page.Query()
	if unsigned, err := http.Get(linkURL); err != nil || unsigned.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned card link request: %v %v, want 401", unsigned.StatusCode, err)
	}

	var st store.CampaignStats
	if err := json.Unmarshal(statsGet(t, s, "/v1/stats/campaign", link, url.Values{"campaign": {campaign}}), &st); err != nil {
		t.Fatal(err)
	}
	if st.Total != want {
		t.Errorf("figures %+v, want %+v (from the workflows' results)", st.Total, want)
	}
	// The message without a number has no country either.
	fr := want
	fr.Messages, fr.NotSent = want.Messages-1, 0
	if len(st.ByCountry) != 2 || st.ByCountry[0].Country != "FR" || st.ByCountry[0].Figures != fr ||
		st.ByCountry[1].Country != "" || st.ByCountry[1].Figures != (store.Figures{Messages: 1, NotSent: 1}) {
		t.Errorf("by country %+v, want FR with every message sent and the one without a number apart", st.ByCountry)
	}
	var days store.Figures
	for _, d := range st.ByDay {
		days.Messages += d.Messages
		days.Sent += d.Sent
	}
	if days.Messages != want.Messages || days.Sent != want.Sent {
		t.Errorf("the days add up to %+v, want %d messages, %d sent", days, want.Messages, want.Sent)
	}

	figures, err := csv.NewReader(strings.NewReader(string(statsGet(t, s, "/v1/stats/campaign.csv", link, url.Values{"campaign": {campaign}})))).ReadAll()
	if err != nil || len(figures) < 3 || figures[1][1] != "total" || figures[1][3] != strconv.FormatInt(want.Messages, 10) ||
		figures[1][8] != strconv.FormatInt(want.Clicked, 10) {
		t.Errorf("figures CSV %v (%v), want the total row with %d messages and %d clicked", figures, err, want.Messages, want.Clicked)
	}

	// The audit lists every stored event of every message of the campaign, numbers masked.
	var events int
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM message_events e JOIN messages m ON m.id = e.message_id
		WHERE m.portal_id = $1 AND m.campaign = $2`, portal, campaign).Scan(&events); err != nil {
		t.Fatal(err)
	}
	audit := string(statsGet(t, s, "/v1/stats/audit.csv", link, url.Values{"campaign": {campaign}}))
	rows, err := csv.NewReader(strings.NewReader(audit)).ReadAll()
	if err != nil || len(rows) != 1+events {
		t.Fatalf("audit: %d rows (%v), want a header and the %d events", len(rows), err, events)
	}
	clicks := 0
	for _, r := range rows[1:] {
		if r[14] == "status" && r[15] == string(outcome.SMSClicked) {
			clicks++
		}
	}
	if int64(clicks) < want.Clicked || strings.Contains(audit, "+33612345621") {
		t.Errorf("audit: %d click statuses (want at least %d), or a number in clear", clicks, want.Clicked)
	}

	// Remarketing: delivered but not clicked.
	recipients, err := csv.NewReader(strings.NewReader(string(statsGet(t, s, "/v1/stats/recipients.csv", link,
		url.Values{"campaign": {campaign}, "reached": {"delivered"}, "not": {"clicked"}})))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recipients[1:] {
		got = append(got, r[1])
	}
	if !slices.Equal(got, deliveredNotClicked) {
		t.Errorf("delivered but not clicked: %v, want %v", got, deliveredNotClicked)
	}
}

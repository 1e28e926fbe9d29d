package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"smsflow/internal/testenv"
	"smsflow/store"
)

// campaignMessage stores a message of a campaign with its status events, the first at sentAt and
// each next one a minute later.
func campaignMessage(t *testing.T, db *store.Store, portal int64, campaign, objectID, phone, country string, segments int,
	sentAt time.Time, statuses ...string) string {
	t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	last := "PENDING"
	if len(statuses) > 0 {
		last = statuses[len(statuses)-1]
	}
	m := store.Message{ID: id, PortalID: portal, ObjectType: "contact", ObjectID: objectID, Channel: "sms", Phone: phone,
		Country: country, Sender: "ACME", Campaign: campaign, Segments: segments, Status: last}
	if slices.Contains(statuses, "SMS_SENT") {
		m.SentAt = &sentAt
	}
	if err := db.SaveMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE messages SET created_at = $2 WHERE id = $1`, id, sentAt.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	for i, st := range statuses {
		if _, err := db.AddEvent(ctx, store.Event{MessageID: &id, Source: "workflow", SourceEventID: id + ":" + st, Kind: "status",
			Status: st, OccurredAt: sentAt.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// seedCampaign stores the campaign "spring" of portal 700 (and lookalikes that must not count):
// six recipients over two days and two countries.
func seedCampaign(t *testing.T, db *store.Store) (day1, day2 time.Time) {
	t.Helper()
	day1 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
	campaignMessage(t, db, 700, "spring", "1", "+33612345601", "FR", 2, day1, "SMS_SENT", "SMS_DELIVERED", "SMS_CLICKED")
	campaignMessage(t, db, 700, "spring", "2", "+33612345602", "FR", 1, day1.Add(time.Minute), "SMS_SENT", "SMS_NOT_DELIVERED")
	campaignMessage(t, db, 700, "spring", "3", "+34612345603", "ES", 1, day2, "SMS_SENT", "SMS_DELIVERED", "SMS_RESPONSE", "SMS_UNSUBSCRIBED")
	campaignMessage(t, db, 700, "spring", "4", "+33612345604", "FR", 1, day2, "SMS_NOT_SENT")
	campaignMessage(t, db, 700, "spring", "5", "+33612345605", "FR", 1, day2)
	campaignMessage(t, db, 700, "spring", "6", "+33612345606", "FR", 3, day2, "SMS_SENT", "SMS_DELIVERED")
	// Not the campaign: another campaign of the portal, the same name in another portal.
	campaignMessage(t, db, 700, "autumn", "1", "+33612345601", "FR", 1, day1, "SMS_SENT", "SMS_DELIVERED")
	campaignMessage(t, db, 701, "spring", "1", "+33612345601", "FR", 1, day1, "SMS_SENT", "SMS_DELIVERED", "SMS_CLICKED")
	// Recipient 3 stopped.
	if _, err := db.Pool.Exec(context.Background(), `INSERT INTO suppressions (portal_id, channel, phone, reason) VALUES (700, 'sms', '+34612345603', 'stop_reply')`); err != nil {
		t.Fatal(err)
	}
	return day1, day2
}

func TestCampaignStatistics(t *testing.T) {
	db := testenv.Store(t)
	ctx := context.Background()
	seedCampaign(t, db)
	st, err := db.CampaignStatistics(ctx, 700, "spring")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Figures{Messages: 6, Sent: 4, NotSent: 1, Delivered: 3, NotDelivered: 1, Clicked: 1, Replied: 1, Unsubscribed: 1, Pending: 1, Parts: 7}
	if st.Total != want {
		t.Errorf("total %+v, want %+v", st.Total, want)
	}
	wantDays := []store.DayFigures{
		{Day: "2026-03-02", Figures: store.Figures{Messages: 2, Sent: 2, Delivered: 1, NotDelivered: 1, Clicked: 1, Parts: 3}},
		{Day: "2026-03-03", Figures: store.Figures{Messages: 4, Sent: 2, NotSent: 1, Delivered: 2, Replied: 1, Unsubscribed: 1, Pending: 1, Parts: 4}},
	}
	if !slices.Equal(st.ByDay, wantDays) {
		t.Errorf("by day %+v, want %+v", st.ByDay, wantDays)
	}
	wantCountries := []store.CountryFigures{
		{Country: "FR", Figures: store.Figures{Messages: 5, Sent: 3, NotSent: 1, Delivered: 2, NotDelivered: 1, Clicked: 1, Pending: 1, Parts: 6}},
		{Country: "ES", Figures: store.Figures{Messages: 1, Sent: 1, Delivered: 1, Replied: 1, Unsubscribed: 1, Parts: 1}},
	}
	if !slices.Equal(st.ByCountry, wantCountries) {
		t.Errorf("by country %+v, want %+v", st.ByCountry, wantCountries)
	}

	empty, err := db.CampaignStatistics(ctx, 700, "nothing")
	if err != nil || empty.Total != (store.Figures{}) || len(empty.ByDay) != 0 {
		t.Errorf("unknown campaign: %+v, %v; want zero figures", empty, err)
	}

	list, err := db.Campaigns(ctx, 700, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "spring" || list[0].Messages != 6 || list[1].Name != "autumn" || list[1].Messages != 1 {
		t.Errorf("campaigns %+v, want spring (6) then autumn (1)", list)
	}
}

func TestCampaignAuditWalksEveryEventInOrder(t *testing.T) {
	db := testenv.Store(t)
	ctx := context.Background()
	seedCampaign(t, db)
	var rows []store.AuditRow
	err := db.CampaignAudit(ctx, 700, "spring", func(r store.AuditRow) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 3 + 2 + 4 + 1 + 2 events, and the pending message's row without event.
	if len(rows) != 13 {
		t.Fatalf("%d audit rows, want 13", len(rows))
	}
	pending := 0
	for i, r := range rows {
		if r.Seq == 0 {
			pending++
			if r.Status != "PENDING" || r.OccurredAt != nil {
				t.Errorf("row without event: %+v", r)
			}
		}
		if i > 0 && r.MessageID == rows[i-1].MessageID && r.Seq < rows[i-1].Seq {
			t.Errorf("events of %s out of order", r.MessageID)
		}
		if i > 0 && r.CreatedAt.Before(rows[i-1].CreatedAt) {
			t.Errorf("row %d: messages out of order", i)
		}
	}
	if pending != 1 {
		t.Errorf("%d rows without event, want 1", pending)
	}
	if rows[0].ObjectID != "1" || rows[0].EventStatus != "SMS_SENT" || rows[2].EventStatus != "SMS_CLICKED" {
		t.Errorf("first message's rows %+v %+v, want recipient 1 sent … clicked", rows[0], rows[2])
	}

	stop := errors.New("client went away")
	n := 0
	err = db.CampaignAudit(ctx, 700, "spring", func(store.AuditRow) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("walk stopped by its callback: %v after %d rows, want the callback's error after 2", err, n)
	}
}

func TestCampaignRecipientsFilter(t *testing.T) {
	db := testenv.Store(t)
	ctx := context.Background()
	seedCampaign(t, db)
	ids := func(f store.RecipientFilter) []string {
		t.Helper()
		var out []string
		if err := db.CampaignRecipients(ctx, 700, "spring", f, func(r store.Recipient) error {
			out = append(out, r.ObjectID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    store.RecipientFilter
		want []string
	}{
		{"all but the opted out", store.RecipientFilter{}, []string{"1", "2", "4", "5", "6"}},
		{"delivered, not clicked", store.RecipientFilter{Reached: []store.Outcome{store.OutcomeDelivered}, NotReached: []store.Outcome{store.OutcomeClicked}}, []string{"6"}},
		{"delivered, not clicked, with the opted out", store.RecipientFilter{Reached: []store.Outcome{store.OutcomeDelivered},
			NotReached: []store.Outcome{store.OutcomeClicked}, WithOptedOut: true}, []string{"3", "6"}},
		{"not delivered", store.RecipientFilter{Reached: []store.Outcome{store.OutcomeNotDelivered}}, []string{"2"}},
		{"never sent", store.RecipientFilter{NotReached: []store.Outcome{store.OutcomeSent}}, []string{"4", "5"}},
	} {
		if got := ids(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: recipients %v, want %v", c.name, got, c.want)
		}
	}
	err := db.CampaignRecipients(ctx, 700, "spring", store.RecipientFilter{Reached: []store.Outcome{"sent) OR true --"}}, func(store.Recipient) error { return nil })
	if err == nil {
		t.Error("an unknown outcome was accepted")
	}
}

// The campaign queries find their rows through the indexes of migration 0016, whatever the size
// of the tables (sequential scans are switched off so that the small test tables do not hide a
// query no index serves).
func TestCampaignQueriesUseIndexes(t *testing.T) {
	db := testenv.Store(t)
	ctx := context.Background()
	seedCampaign(t, db)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	rows, err := conn.Query(ctx, `EXPLAIN `+store.MessageFlagsSQL, int64(700), "spring")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for _, index := range []string{"messages_portal_campaign", "message_events_message_status"} {
		if !strings.Contains(plan.String(), index) {
			t.Errorf("plan does not use %s:\n%s", index, plan.String())
		}
	}
}

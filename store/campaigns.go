package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// A campaign's figures count messages: each message of the campaign counts once in each figure
// whose status it reached (a message delivered then clicked is sent, delivered and clicked), as
// its workflow recorded them in message_events (kind 'status'). Voice statuses count with their
// SMS counterparts (a key press as a reply). Days are UTC, of the message's send (else creation).
//
// The figures cover the messages still kept: the retention purge counts a purged message only in
// message_daily_counts, which has no campaign.

// messageFlags is the SQL of the campaign's messages with the statuses each reached
// ($1 portal id, $2 campaign).
const messageFlags = `
SELECT m.id, m.object_type, m.object_id, m.channel, m.phone, m.country, m.segments, m.status, m.created_at,
	(coalesce(m.sent_at, m.created_at) AT TIME ZONE 'UTC')::date AS day,
	coalesce(f.sent, false) AS sent, coalesce(f.not_sent, false) AS not_sent,
	coalesce(f.delivered, false) AS delivered, coalesce(f.not_delivered, false) AS not_delivered,
	coalesce(f.clicked, false) AS clicked, coalesce(f.replied, false) AS replied,
	coalesce(f.unsubscribed, false) AS unsubscribed
FROM messages m
LEFT JOIN LATERAL (
	SELECT bool_or(e.status IN ('SMS_SENT', 'VOICE_SENT')) AS sent,
		bool_or(e.status IN ('SMS_NOT_SENT', 'VOICE_NOT_SENT')) AS not_sent,
		bool_or(e.status IN ('SMS_DELIVERED', 'VOICE_DELIVERED')) AS delivered,
		bool_or(e.status IN ('SMS_NOT_DELIVERED', 'VOICE_NOT_DELIVERED')) AS not_delivered,
		bool_or(e.status = 'SMS_CLICKED') AS clicked,
		bool_or(e.status IN ('SMS_RESPONSE', 'VOICE_KEY_PRESSED')) AS replied,
		bool_or(e.status IN ('SMS_UNSUBSCRIBED', 'VOICE_UNSUBSCRIBED')) AS unsubscribed
	FROM message_events e WHERE e.message_id = m.id AND e.kind = 'status'
) f ON true
WHERE m.portal_id = $1 AND m.campaign = $2`

// Figures are the counts of a campaign, or of one of its days or countries.
type Figures struct {
	// Messages: every message, whatever became of it; Pending: neither sent nor refused yet.
	Messages     int64 `json:"messages"`
	Sent         int64 `json:"sent"`
	NotSent      int64 `json:"not_sent"`
	Delivered    int64 `json:"delivered"`
	NotDelivered int64 `json:"not_delivered"`
	Clicked      int64 `json:"clicked"`
	Replied      int64 `json:"replied"`
	Unsubscribed int64 `json:"unsubscribed"`
	Pending      int64 `json:"pending"`
	// Parts: the segments of the messages sent, what the carrier bills.
	Parts int64 `json:"parts"`
}

// DayFigures are a campaign's figures of one UTC day.
type DayFigures struct {
	Day string `json:"day"` // 2026-11-25
	Figures
}

// CountryFigures are a campaign's figures of one recipient country ("" when unknown).
type CountryFigures struct {
	Country string `json:"country"`
	Figures
}

// CampaignStats are a campaign's figures, in all, by day (oldest first) and by country (most
// messages first).
type CampaignStats struct {
	PortalID  int64            `json:"portal_id"`
	Campaign  string           `json:"campaign"`
	Total     Figures          `json:"total"`
	ByDay     []DayFigures     `json:"by_day"`
	ByCountry []CountryFigures `json:"by_country"`
}

// CampaignStatistics computes a campaign's figures in one pass over its messages (the campaign
// index, then each message's status events from their index). A campaign without messages has
// zero figures.
func (s *Store) CampaignStatistics(ctx context.Context, portalID int64, campaign string) (CampaignStats, error) {
	rows, _ := s.Pool.Query(ctx, `WITH flags AS (`+messageFlags+`)
SELECT grouping(day, country), coalesce(to_char(day, 'YYYY-MM-DD'), ''), coalesce(country, ''),
	count(*), count(*) FILTER (WHERE sent), count(*) FILTER (WHERE not_sent),
	count(*) FILTER (WHERE delivered), count(*) FILTER (WHERE not_delivered),
	count(*) FILTER (WHERE clicked), count(*) FILTER (WHERE replied), count(*) FILTER (WHERE unsubscribed),
	count(*) FILTER (WHERE NOT sent AND NOT not_sent), coalesce(sum(segments) FILTER (WHERE sent), 0)
FROM flags GROUP BY GROUPING SETS ((day), (country), ())
ORDER BY 1, 2, 4 DESC, 3`, portalID, campaign)
	st := CampaignStats{PortalID: portalID, Campaign: campaign, ByDay: []DayFigures{}, ByCountry: []CountryFigures{}}
	var set int
	var day, country string
	var f Figures
	_, err := pgx.ForEachRow(rows, []any{&set, &day, &country, &f.Messages, &f.Sent, &f.NotSent, &f.Delivered, &f.NotDelivered,
		&f.Clicked, &f.Replied, &f.Unsubscribed, &f.Pending, &f.Parts}, func() error {
		// grouping(day, country): 1 grouped by day, 2 by country, 3 the total.
		switch set {
		case 1:
			st.ByDay = append(st.ByDay, DayFigures{Day: day, Figures: f})
		case 2:
			st.ByCountry = append(st.ByCountry, CountryFigures{Country: country, Figures: f})
		case 3:
			st.Total = f
		}
		return nil
	})
	if err != nil {
		return CampaignStats{}, fmt.Errorf("store: campaign statistics: %w", err)
	}
	return st, nil
}

// Campaign is one campaign of a portal in the list of its campaigns.
type Campaign struct {
	Name     string    `json:"name"`
	Messages int64     `json:"messages"`
	FirstAt  time.Time `json:"first_at"`
	LastAt   time.Time `json:"last_at"`
}

// Campaigns lists a portal's campaigns, the latest used first, at most limit of them (read from
// the campaign index alone).
func (s *Store) Campaigns(ctx context.Context, portalID int64, limit int) ([]Campaign, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT campaign, count(*), min(created_at), max(created_at) FROM messages
	WHERE portal_id = $1 GROUP BY campaign ORDER BY max(created_at) DESC, campaign LIMIT $2`, portalID, limit)
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Campaign, error) {
		var c Campaign
		return c, r.Scan(&c.Name, &c.Messages, &c.FirstAt, &c.LastAt)
	})
	if err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	return list, nil
}

// AuditRow is one event of one message of a campaign; a message without events has one row with
// Seq 0.
type AuditRow struct {
	MessageID   string
	ObjectType  string
	ObjectID    string
	Channel     string
	Phone       string
	Country     string
	Sender      string
	Segments    int
	Status      string // the message's current status
	ErrorCode   string
	CreatedAt   time.Time
	Seq         int64
	OccurredAt  *time.Time
	Source      string
	Kind        string
	EventStatus string
	Detail      []byte // JSON
}

// CampaignAudit calls fn with every event of every message of a campaign, messages oldest first
// and each message's events in arrival order, as the rows come from PostgreSQL: nothing is held
// in memory but the current row. An error of fn stops the walk and is returned.
func (s *Store) CampaignAudit(ctx context.Context, portalID int64, campaign string, fn func(AuditRow) error) error {
	rows, _ := s.Pool.Query(ctx, `SELECT m.id::text, m.object_type, m.object_id, m.channel, m.phone, m.country, m.sender,
	m.segments, m.status, m.error_code, m.created_at, coalesce(e.seq, 0), e.occurred_at, coalesce(e.source, ''),
	coalesce(e.kind, ''), coalesce(e.status, ''), coalesce(e.detail, '{}'::jsonb)
	FROM messages m LEFT JOIN message_events e ON e.message_id = m.id
	WHERE m.portal_id = $1 AND m.campaign = $2
	ORDER BY m.created_at, m.id, e.seq`, portalID, campaign)
	var r AuditRow
	_, err := pgx.ForEachRow(rows, []any{&r.MessageID, &r.ObjectType, &r.ObjectID, &r.Channel, &r.Phone, &r.Country, &r.Sender,
		&r.Segments, &r.Status, &r.ErrorCode, &r.CreatedAt, &r.Seq, &r.OccurredAt, &r.Source, &r.Kind, &r.EventStatus, &r.Detail},
		func() error { return fn(r) })
	if err != nil {
		return fmt.Errorf("store: campaign audit: %w", err)
	}
	return nil
}

// Outcome names a status a message of a campaign may have reached, for filtering recipients.
type Outcome string

// Outcomes of RecipientFilter.
const (
	OutcomeSent         Outcome = "sent"
	OutcomeNotSent      Outcome = "not_sent"
	OutcomeDelivered    Outcome = "delivered"
	OutcomeNotDelivered Outcome = "not_delivered"
	OutcomeClicked      Outcome = "clicked"
	OutcomeReplied      Outcome = "replied"
	OutcomeUnsubscribed Outcome = "unsubscribed"
)

// Outcomes lists every Outcome.
var Outcomes = []Outcome{OutcomeSent, OutcomeNotSent, OutcomeDelivered, OutcomeNotDelivered, OutcomeClicked, OutcomeReplied, OutcomeUnsubscribed}

// ParseOutcome reads an outcome's name.
func ParseOutcome(s string) (Outcome, error) {
	for _, o := range Outcomes {
		if string(o) == strings.TrimSpace(strings.ToLower(s)) {
			return o, nil
		}
	}
	return "", fmt.Errorf("store: unknown outcome %q (want one of %v)", s, Outcomes)
}

// RecipientFilter selects a campaign's recipients (its records) by what their messages of the
// campaign reached: all of Reached, none of NotReached (delivered but not clicked: Reached
// delivered, NotReached clicked). Recipients whose number is on the portal's suppression list
// are left out unless WithOptedOut.
type RecipientFilter struct {
	Reached, NotReached []Outcome
	WithOptedOut        bool
}

// Recipient is one record a campaign sent to, with what its messages of the campaign reached.
type Recipient struct {
	ObjectType string
	ObjectID   string
	Phone      string // of its latest message
	Country    string
	Channel    string
	Messages   int
	LastAt     time.Time
	Reached    map[Outcome]bool
	OptedOut   bool
}

// CampaignRecipients calls fn with each record of a campaign that the filter selects, in record
// order, as the rows come.
func (s *Store) CampaignRecipients(ctx context.Context, portalID int64, campaign string, f RecipientFilter, fn func(Recipient) error) error {
	// Each outcome names a column of messageFlags; only those names reach the SQL.
	var having []string
	for _, sel := range []struct {
		list []Outcome
		op   string
	}{{f.Reached, ""}, {f.NotReached, "NOT "}} {
		for _, o := range sel.list {
			name, err := ParseOutcome(string(o))
			if err != nil {
				return err
			}
			having = append(having, sel.op+"bool_or("+string(name)+")")
		}
	}
	where := ""
	if len(having) > 0 {
		where = "HAVING " + strings.Join(having, " AND ")
	}
	optedOut := ""
	if !f.WithOptedOut {
		optedOut = "WHERE NOT opted_out"
	}
	rows, _ := s.Pool.Query(ctx, `WITH flags AS (`+messageFlags+`),
recipients AS (
	SELECT object_type, object_id, (array_agg(phone ORDER BY created_at DESC))[1] AS phone,
		(array_agg(country ORDER BY created_at DESC))[1] AS country, (array_agg(channel ORDER BY created_at DESC))[1] AS channel,
		count(*) AS messages, max(created_at) AS last_at,
		bool_or(sent) AS sent, bool_or(not_sent) AS not_sent, bool_or(delivered) AS delivered,
		bool_or(not_delivered) AS not_delivered, bool_or(clicked) AS clicked, bool_or(replied) AS replied,
		bool_or(unsubscribed) AS unsubscribed
	FROM flags GROUP BY object_type, object_id `+where+`
), marked AS (
	SELECT r.*, EXISTS (SELECT 1 FROM suppressions s WHERE s.portal_id = $1 AND s.channel = r.channel AND s.phone = r.phone) AS opted_out
	FROM recipients r
)
SELECT object_type, object_id, phone, country, channel, messages, last_at, sent, not_sent, delivered, not_delivered,
	clicked, replied, unsubscribed, opted_out
FROM marked `+optedOut+` ORDER BY object_type, object_id`, portalID, campaign)
	var r Recipient
	var flags [7]bool
	_, err := pgx.ForEachRow(rows, []any{&r.ObjectType, &r.ObjectID, &r.Phone, &r.Country, &r.Channel, &r.Messages, &r.LastAt,
		&flags[0], &flags[1], &flags[2], &flags[3], &flags[4], &flags[5], &flags[6], &r.OptedOut}, func() error {
		r.Reached = make(map[Outcome]bool, len(Outcomes))
		for i, o := range Outcomes {
			r.Reached[o] = flags[i]
		}
		return fn(r)
	})
	if err != nil {
		return fmt.Errorf("store: campaign recipients: %w", err)
	}
	return nil
}

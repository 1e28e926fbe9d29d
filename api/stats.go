package api

import (
	"context"
	"crypto/subtle"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"smsflow/hubspot"
	"smsflow/store"
)

// Exports stream for up to exportTimeout; at most exportSlots run at once in a process, each on
// one database connection, so that exports never take the pool from the lifecycle's writes.
const (
	exportTimeout    = 10 * time.Minute
	exportSlots      = 2
	exportFlushEvery = 500 // rows between flushes to the client
	maxCampaignList  = 500
	maxStatsLinkBody = 64 << 10
)

// portalKey is the gin context key of the portal a statistics request is for.
const portalKey = "smsflow.portal_id"

// stats serves the campaign statistics of a portal: its page, figures and CSV exports.
type stats struct {
	d      Deps
	token  statsToken
	slots  chan struct{}
	now    func() time.Time
	assets http.Handler
}

// registerStats adds the statistics routes:
//
//   - GET|POST /v1/stats/link, signed by HubSpot (the card's hubspot.fetch), and
//     POST /admin/portals/:id/stats-link, behind ADMIN_TOKEN: a link to the portal's statistics
//     page, valid statsLinkTTL;
//   - GET /stats: the page (charts), opened with such a link;
//   - GET /v1/stats/campaigns, /v1/stats/campaign, /v1/stats/campaign.csv, /v1/stats/audit.csv and
//     /v1/stats/recipients.csv: the figures and exports, authenticated by the link's query (which
//     the page passes on) or by ADMIN_TOKEN with ?portal=.
func registerStats(r *gin.Engine, d Deps) {
	s := &stats{d: d, token: newStatsToken(d.Config.HubSpot.ClientSecret), slots: make(chan struct{}, exportSlots), now: time.Now,
		assets: statsAssets()}
	r.GET("/v1/stats/link", s.cardLink)
	r.POST("/v1/stats/link", s.cardLink)
	r.POST("/admin/portals/:id/stats-link", adminOnly(d.Config.AdminToken), s.adminLink)
	r.GET("/stats", s.page)
	r.GET("/stats/assets/*file", gin.WrapH(s.assets))
	g := r.Group("/v1/stats", s.portalOnly)
	g.GET("/campaigns", s.campaigns)
	g.GET("/campaign", s.campaign)
	g.GET("/campaign.csv", s.campaignCSV)
	g.GET("/audit.csv", s.auditCSV)
	g.GET("/recipients.csv", s.recipientsCSV)
}

// statsLink is the answer of the link endpoints.
type statsLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// cardLink answers a request of the app card (hubspot.fetch, signed by HubSpot with the app's
// client secret) with a link to the statistics page of the portal HubSpot names in portalId.
func (s *stats) cardLink(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxStatsLinkBody))
	if err != nil {
		c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body too large"})
		return
	}
	uri := s.d.Config.PublicBaseURL + c.Request.URL.RequestURI()
	if err := hubspot.VerifyRequest(s.d.Config.HubSpot.ClientSecret, c.Request.Header, c.Request.Method, uri, body, s.now()); err != nil {
		s.d.Log.Warn("statistics link refused", "reason", err.Error())
		c.JSON(http.StatusUnauthorized, gin.H{"error": "invalid HubSpot signature"})
		return
	}
	portal := c.Query("portalId")
	if portal == "" && len(body) > 0 {
		var in struct {
			PortalID json.Number `json:"portalId"`
		}
		_ = json.Unmarshal(body, &in)
		portal = in.PortalID.String()
	}
	id, err := strconv.ParseInt(portal, 10, 64)
	if err != nil || id <= 0 {
		c.JSON(http.StatusBadRequest, gin.H{"error": "portalId: a positive integer"})
		return
	}
	s.answerLink(c, id, c.Query("campaign"))
}

// adminLink answers an operator with a link to a portal's statistics page.
func (s *stats) adminLink(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		c.JSON(http.StatusBadRequest, gin.H{"error": "portal id: a positive integer"})
		return
	}
	s.answerLink(c, id, c.Query("campaign"))
}

func (s *stats) answerLink(c *gin.Context, portalID int64, campaign string) {
	q, exp, err := s.token.query(portalID, s.now())
	if err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
		return
	}
	if campaign != "" {
		q.Set("campaign", campaign)
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, statsLink{URL: strings.TrimRight(s.d.Config.PublicBaseURL, "/") + "/stats?" + q.Encode(), ExpiresAt: exp.UTC()})
}

// portalOnly lets a request through with the portal of its statistics link, or, with the admin
// token, of ?portal=; anything else is answered 401.
func (s *stats) portalOnly(c *gin.Context) {
	if portal, err := s.token.verify(c.Request.URL.Query(), s.now()); err == nil {
		c.Set(portalKey, portal)
		c.Next()
		return
	}
	got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	admin := s.d.Config.AdminToken
	if ok && admin != "" && subtle.ConstantTimeCompare([]byte(got), []byte(admin)) == 1 {
		if portal, err := strconv.ParseInt(c.Query("portal"), 10, 64); err == nil && portal > 0 {
			c.Set(portalKey, portal)
			c.Next()
			return
		}
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": errStatsToken.Error() + "; open the statistics again from HubSpot"})
}

// ready answers 503 when the API has no database.
func (s *stats) ready(c *gin.Context) bool {
	if s.d.Store == nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "no database"})
		return false
	}
	return true
}

// campaignName is the request's ?campaign=, answered 400 when missing.
func campaignName(c *gin.Context) (string, bool) {
	name := c.Query("campaign")
	if name == "" {
		c.JSON(http.StatusBadRequest, gin.H{"error": "campaign: the campaign's name is required"})
		return "", false
	}
	return name, true
}

// campaigns lists the portal's campaigns, the latest first.
func (s *stats) campaigns(c *gin.Context) {
	if !s.ready(c) {
		return
	}
	ctx, cancel := s.d.requestContext(c)
	defer cancel()
	portal := c.GetInt64(portalKey)
	list, err := s.d.Store.Campaigns(ctx, portal, maxCampaignList)
	if err != nil {
		s.d.Log.Error("campaign list failed", "portal_id", portal, "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "campaigns unavailable; try again"})
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"portal_id": portal, "campaigns": list})
}

// campaign answers a campaign's figures (store.CampaignStats) as JSON.
func (s *stats) campaign(c *gin.Context) {
	st, ok := s.figures(c)
	if ok {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, st)
	}
}

func (s *stats) figures(c *gin.Context) (store.CampaignStats, bool) {
	name, ok := campaignName(c)
	if !ok || !s.ready(c) {
		return store.CampaignStats{}, false
	}
	// A large campaign's figures read all its messages: the export timeout, not the request's.
	ctx, cancel := context.WithTimeout(c.Request.Context(), exportTimeout)
	defer cancel()
	portal := c.GetInt64(portalKey)
	st, err := s.d.Store.CampaignStatistics(ctx, portal, name)
	if err != nil {
		s.d.Log.Error("campaign statistics failed", "portal_id", portal, "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "statistics unavailable; try again"})
		return store.CampaignStats{}, false
	}
	return st, true
}

// figureColumns are the CSV columns of Figures.
var figureColumns = []string{"messages", "sent", "not_sent", "delivered", "not_delivered", "clicked", "replied", "unsubscribed", "pending", "parts"}

func figureCells(f store.Figures) []string {
	out := make([]string, 0, len(figureColumns))
	for _, n := range []int64{f.Messages, f.Sent, f.NotSent, f.Delivered, f.NotDelivered, f.Clicked, f.Replied, f.Unsubscribed, f.Pending, f.Parts} {
		out = append(out, strconv.FormatInt(n, 10))
	}
	return out
}

// campaignCSV exports a campaign's figures: a total row, then one per day and one per country.
func (s *stats) campaignCSV(c *gin.Context) {
	st, ok := s.figures(c)
	if !ok {
		return
	}
	s.stream(c, "campaign", st.Campaign, append([]string{"campaign", "breakdown", "value"}, figureColumns...),
		func(_ context.Context, row func([]string) error) error {
			if err := row(append([]string{st.Campaign, "total", ""}, figureCells(st.Total)...)); err != nil {
				return err
			}
			for _, d := range st.ByDay {
				if err := row(append([]string{st.Campaign, "day", d.Day}, figureCells(d.Figures)...)); err != nil {
					return err
				}
			}
			for _, k := range st.ByCountry {
				if err := row(append([]string{st.Campaign, "country", k.Country}, figureCells(k.Figures)...)); err != nil {
					return err
				}
			}
			return nil
		})
}

// auditCSV exports every event of every message of a campaign. Numbers are masked and reply
// texts left out unless ?full=1.
func (s *stats) auditCSV(c *gin.Context) {
	name, ok := campaignName(c)
	if !ok || !s.ready(c) {
		return
	}
	full := c.Query("full") == "1"
	portal := c.GetInt64(portalKey)
	s.stream(c, "audit", name, []string{"message_id", "object_type", "object_id", "channel", "phone", "country", "sender", "segments",
		"message_status", "error_code", "created_at", "event_seq", "event_at", "event_source", "event_kind", "event_status", "event_detail"},
		func(ctx context.Context, row func([]string) error) error {
			return s.d.Store.CampaignAudit(ctx, portal, name, func(r store.AuditRow) error {
				seq, at := "", ""
				if r.Seq != 0 {
					seq = strconv.FormatInt(r.Seq, 10)
				}
				if r.OccurredAt != nil {
					at = r.OccurredAt.UTC().Format(time.RFC3339)
				}
				return row([]string{r.MessageID, r.ObjectType, r.ObjectID, r.Channel, exportedPhone(r.Phone, full), r.Country, r.Sender,
					strconv.Itoa(r.Segments), r.Status, r.ErrorCode, r.CreatedAt.UTC().Format(time.RFC3339), seq, at, r.Source, r.Kind,
					r.EventStatus, exportedDetail(r.Detail, full)})
			})
		})
}

// recipientsCSV exports the records a campaign sent to, filtered by what their messages reached:
// ?reached=delivered&not=clicked (each repeatable or comma-separated), for re-enrolment. Opted-out
// numbers are left out unless ?with_opted_out=1; numbers are masked unless ?full=1 (the record
// ids are what a re-enrolment needs).
func (s *stats) recipientsCSV(c *gin.Context) {
	name, ok := campaignName(c)
	if !ok || !s.ready(c) {
		return
	}
	var f store.RecipientFilter
	for _, sel := range []struct {
		param string
		list  *[]store.Outcome
	}{{"reached", &f.Reached}, {"not", &f.NotReached}} {
		for _, v := range c.QueryArray(sel.param) {
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part == "" {
					continue
				}
				o, err := store.ParseOutcome(part)
				if err != nil {
					c.JSON(http.StatusBadRequest, gin.H{"error": sel.param + ": " + err.Error()})
					return
				}
				*sel.list = append(*sel.list, o)
			}
		}
	}
	f.WithOptedOut = c.Query("with_opted_out") == "1"
	full := c.Query("full") == "1"
	portal := c.GetInt64(portalKey)
	header := []string{"object_type", "object_id", "phone", "country", "channel", "messages", "last_message_at"}
	for _, o := range store.Outcomes {
		header = append(header, string(o))
	}
	header = append(header, "opted_out")
	s.stream(c, "recipients", name, header, func(ctx context.Context, row func([]string) error) error {
		return s.d.Store.CampaignRecipients(ctx, portal, name, f, func(r store.Recipient) error {
			cells := []string{r.ObjectType, r.ObjectID, exportedPhone(r.Phone, full), r.Country, r.Channel, strconv.Itoa(r.Messages),
				r.LastAt.UTC().Format(time.RFC3339)}
			for _, o := range store.Outcomes {
				cells = append(cells, strconv.FormatBool(r.Reached[o]))
			}
			return row(append(cells, strconv.FormatBool(r.OptedOut)))
		})
	})
}

// stream writes a CSV export as its rows come: walk calls row for each, and the writer is
// flushed to the client every exportFlushEvery rows, so no export is held in memory. An export
// failing halfway cuts the connection, so the client sees a broken download rather than a short
// file that looks whole.
func (s *stats) stream(c *gin.Context, kind, campaign string, header []string, walk func(ctx context.Context, row func([]string) error) error) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		c.Header("Retry-After", "30")
		c.JSON(http.StatusTooManyRequests, gin.H{"error": "other exports are running; try again shortly"})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), exportTimeout)
	defer cancel()
	// The server's write timeout bounds ordinary answers; an export may take longer.
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(exportTimeout))
	portal := c.GetInt64(portalKey)
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+exportFileName(kind, campaign)+`"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	rows := 0
	row := func(cells []string) error {
		for i := range cells {
			cells[i] = neutralizeCell(cells[i])
		}
		if err := w.Write(cells); err != nil {
			return err
		}
		if rows++; rows%exportFlushEvery == 0 {
			w.Flush()
			c.Writer.Flush()
			return w.Error()
		}
		return nil
	}
	err := row(header)
	if err == nil {
		err = walk(ctx, row)
	}
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if err != nil {
		s.d.Log.Error("export failed", "portal_id", portal, "export", kind, "rows", rows, "error", err)
		abortStream(c)
		return
	}
	s.d.Log.Info("export", "portal_id", portal, "export", kind, "rows", rows-1, "full", c.Query("full") == "1")
}

// abortStream closes the connection of a response already under way (HTTP/1.1), so that its
// chunked body never ends as complete.
func abortStream(c *gin.Context) {
	c.Writer.Flush()
	conn, _, err := http.NewResponseController(c.Writer).Hijack()
	if err == nil {
		_ = conn.Close()
	}
	c.Abort()
}

// exportFileName is the download's name: the export and the campaign, in safe characters.
func exportFileName(kind, campaign string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, campaign)
	if len(clean) > 80 {
		clean = clean[:80]
	}
	return "smsflow-" + kind + "-" + clean + ".csv"
}

// exportedPhone is a number as an export shows it: in full, or masked to its first four and last
// two characters (+336******01), enough to recognise a number without handing it out.
func exportedPhone(phone string, full bool) string {
	if full || len(phone) <= 6 {
		return phone
	}
	return phone[:4] + strings.Repeat("*", len(phone)-6) + phone[len(phone)-2:]
}

// exportedDetail is an event's detail as an export shows it: the recipient's own words (a reply's
// text) only in full exports, and its numbers (a reply's from and to) masked as the phone column.
func exportedDetail(detail []byte, full bool) string {
	if full || len(detail) == 0 {
		return string(detail)
	}
	var m map[string]any
	if err := json.Unmarshal(detail, &m); err != nil {
		return ""
	}
	delete(m, "text")
	for _, k := range []string{"from", "to", "phone"} {
		if v, ok := m[k].(string); ok {
			m[k] = exportedPhone(v, false)
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// neutralizeCell keeps a spreadsheet from reading a cell as a formula: a cell starting with = + -
// @ or a tab or carriage return gets a leading quote, but numbers (+33612345601, masked or not).
func neutralizeCell(v string) string {
	if v == "" || !strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return v
	}
	if (v[0] == '+' || v[0] == '-') && len(v) > 1 && strings.Trim(v[1:], "0123456789*") == "" {
		return v
	}
	return "'" + v
}

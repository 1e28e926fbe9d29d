package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"smsflow/config"
	"smsflow/hubspot/app"
)

// ActionKinds are the custom workflow actions of hubspot/app/actions, in the order they are synced.
var ActionKinds = []string{"sms", "voice", "ivr"}

// Default path prefixes of the developer-key APIs. Create (POST {Actions}/{appId}) is HubSpot's
// documented call; list (GET {Actions}/{appId}) and update (PATCH {Actions}/{appId}/{id}) are from
// clients generated from HubSpot's API spec, not from HubSpot's pages. The template prefix follows
// the timeline prefix (HUBSPOT_PATHS timeline=), whose live version is UNCONFIRMED; its list (GET)
// and update (PUT .../{templateId}) also come from generated clients.
const (
	DefaultActionsPath   = "/automation/v4/actions"
	DefaultTemplatesPath = "/crm/v3/timeline" // or /integrators/timeline/v3
)

// AppSync creates or updates an app's custom workflow action definitions and timeline event
// templates from the files in hubspot/app. These APIs are called with the developer account's API
// key (?hapikey=), not an OAuth token.
type AppSync struct {
	BaseURL      string
	AppID        string
	DeveloperKey string
	HTTP         *http.Client
	// ActionsPath is the prefix of GET/POST {ActionsPath}/{appId} and PATCH
	// {ActionsPath}/{appId}/{definitionId}.
	ActionsPath string
	// TemplatesPath is the prefix of GET/POST {TemplatesPath}/{appId}/event-templates and PUT
	// …/event-templates/{id}.
	TemplatesPath string
	// PageSize is the limit of one page of definitions (default 100).
	PageSize int
	// MaxAttempts bounds the tries of one call after 429s and 5xx (default 4).
	MaxAttempts int
	// Sleep waits between tries (tests record it instead).
	Sleep func(ctx context.Context, d time.Duration) error
}

// NewAppSyncFromConfig builds the sync of the configured app: HUBSPOT_APP_ID,
// HUBSPOT_DEVELOPER_API_KEY, HUBSPOT_API_BASE_URL, and the template prefix of HUBSPOT_PATHS'
// timeline entry.
func NewAppSyncFromConfig(c config.HubSpot) (*AppSync, error) {
	paths, err := ParsePaths(c.Paths)
	if err != nil {
		return nil, err
	}
	return &AppSync{BaseURL: c.APIBaseURL, AppID: c.AppID, DeveloperKey: c.DeveloperAPIKey,
		HTTP: &http.Client{Timeout: 30 * time.Second}, ActionsPath: DefaultActionsPath, TemplatesPath: paths.Timeline}, nil
}

// Synced is what happened to one definition or template.
type Synced struct {
	Name    string // action kind ("sms") or template name ("SMS sent")
	Status  string // the template's message status (SMS_SENT); empty for actions
	ID      string
	Created bool // false: an existing one was updated
	URL     string
	// Published is the action's published flag as sent.
	Published bool
}

// Report is the outcome of a Sync, in file order.
type Report struct {
	Actions   []Synced
	Templates []Synced
}

// TimelineTemplates is the template ids by status in the format of HUBSPOT_TIMELINE_TEMPLATES.
func (r Report) TimelineTemplates() string {
	var kv []string
	for _, t := range r.Templates {
		kv = append(kv, t.Status+"="+t.ID)
	}
	return strings.Join(kv, ",")
}

func (r Report) String() string {
	var b strings.Builder
	verb := func(created bool) string {
		if created {
			return "created"
		}
		return "updated"
	}
	for _, a := range r.Actions {
		fmt.Fprintf(&b, "action   %-6s %s id %s  %s  published=%t\n", a.Name, verb(a.Created), a.ID, a.URL, a.Published)
	}
	for _, t := range r.Templates {
		fmt.Fprintf(&b, "template %-17s %s id %s  %q\n", t.Status, verb(t.Created), t.ID, t.Name)
	}
	if len(r.Templates) > 0 {
		fmt.Fprintf(&b, "HUBSPOT_TIMELINE_TEMPLATES=%s\n", r.TimelineTemplates())
	}
	return b.String()
}

// DeveloperKeyError is a 401 or 403 from a developer-key API: the key is wrong, belongs to another
// developer account than the app's, or (403 on templates) the app may not use that API.
type DeveloperKeyError struct {
	AppID string
	API   *APIError
}

func (e *DeveloperKeyError) Error() string {
	return fmt.Sprintf("hubspot: HubSpot refused the developer API key for app %s (%d): set HUBSPOT_DEVELOPER_API_KEY to the API key "+
		"of the developer account that owns HUBSPOT_APP_ID (timeline templates are also refused, with 403, to apps that are not "+
		"timeline partners): %v", e.AppID, e.API.Status, e.API)
}
func (e *DeveloperKeyError) Unwrap() error { return e.API }

// Sync makes the app's action definitions and timeline templates match the files: an action is
// matched by its actionUrl (actionURLBase + /hubspot/actions/{kind}) and updated, or created; a
// template is matched by name. Running it again updates everything and creates nothing. The report
// holds what was done before an error.
func (s *AppSync) Sync(ctx context.Context, actionURLBase string) (Report, error) {
	var rep Report
	if s.DeveloperKey == "" {
		return rep, errors.New("hubspot: HUBSPOT_DEVELOPER_API_KEY is empty: use the API key of the developer account that owns the app")
	}
	if _, err := strconv.ParseInt(s.AppID, 10, 64); err != nil {
		return rep, fmt.Errorf("hubspot: HUBSPOT_APP_ID %q is not an app id", s.AppID)
	}
	if strings.TrimSpace(actionURLBase) == "" {
		return rep, errors.New("hubspot: the public base URL of the action endpoints is empty")
	}
	if err := s.syncActions(ctx, actionURLBase, &rep); err != nil {
		return rep, err
	}
	return rep, s.syncTemplates(ctx, &rep)
}

func (s *AppSync) syncActions(ctx context.Context, base string, rep *Report) error {
	existing, err := s.listActions(ctx)
	if err != nil {
		return err
	}
	prefix := s.actionsPath() + "/" + s.AppID
	for _, kind := range ActionKinds {
		def, err := app.Action(kind, base)
		if err != nil {
			return err
		}
		actionURL, _ := def["actionUrl"].(string)
		published, _ := def["published"].(bool)
		var out struct {
			ID string `json:"id"`
		}
		id, found := existing[normalizeURL(actionURL)]
		if found {
			err = s.call(ctx, http.MethodPatch, prefix+"/"+url.PathEscape(id), nil, def, &out)
		} else {
			err = s.call(ctx, http.MethodPost, prefix, nil, def, &out)
			id = out.ID
		}
		if err != nil {
			return fmt.Errorf("action %s: %w", kind, err)
		}
		if id == "" {
			return fmt.Errorf("hubspot: action %s: HubSpot returned no definition id", kind)
		}
		existing[normalizeURL(actionURL)] = id
		rep.Actions = append(rep.Actions, Synced{Name: kind, ID: id, Created: !found, URL: actionURL, Published: published})
	}
	return nil
}

// listActions returns the app's definitions, actionUrl → id (the first one when several share it).
func (s *AppSync) listActions(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	q := url.Values{"limit": {strconv.Itoa(s.pageSize())}}
	for {
		var page struct {
			Results []struct {
				ID        string `json:"id"`
				ActionURL string `json:"actionUrl"`
			} `json:"results"`
			Paging struct {
				Next struct {
					After string `json:"after"`
				} `json:"next"`
			} `json:"paging"`
		}
		if err := s.call(ctx, http.MethodGet, s.actionsPath()+"/"+s.AppID, q, nil, &page); err != nil {
			return nil, fmt.Errorf("list actions: %w", err)
		}
		for _, d := range page.Results {
			if k := normalizeURL(d.ActionURL); out[k] == "" {
				out[k] = d.ID
			}
		}
		if page.Paging.Next.After == "" || page.Paging.Next.After == q.Get("after") {
			return out, nil
		}
		q.Set("after", page.Paging.Next.After)
	}
}

func (s *AppSync) syncTemplates(ctx context.Context, rep *Report) error {
	objectType, tokens, templates, err := app.TimelineTemplates()
	if err != nil {
		return err
	}
	prefix := s.templatesPath() + "/" + s.AppID + "/event-templates"
	var list struct {
		Results []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"results"`
	}
	if err := s.call(ctx, http.MethodGet, prefix, nil, nil, &list); err != nil {
		return fmt.Errorf("list timeline templates: %w", err)
	}
	byName := map[string]string{}
	for _, t := range list.Results {
		if byName[t.Name] == "" {
			byName[t.Name] = t.ID
		}
	}
	for _, t := range templates {
		body := map[string]any{"name": t.Name, "headerTemplate": t.HeaderTemplate, "detailTemplate": t.DetailTemplate, "tokens": tokens}
		var out struct {
			ID string `json:"id"`
		}
		id, found := byName[t.Name]
		if found {
			body["id"] = id // the update body carries the id; a template's objectType cannot change
			err = s.call(ctx, http.MethodPut, prefix+"/"+url.PathEscape(id), nil, body, &out)
		} else {
			body["objectType"] = objectType
			err = s.call(ctx, http.MethodPost, prefix, nil, body, &out)
			id = out.ID
		}
		if err != nil {
			return fmt.Errorf("timeline template %q: %w", t.Name, err)
		}
		if id == "" {
			return fmt.Errorf("hubspot: timeline template %q: HubSpot returned no template id", t.Name)
		}
		byName[t.Name] = id
		rep.Templates = append(rep.Templates, Synced{Name: t.Name, Status: t.Status, ID: id, Created: !found})
	}
	return nil
}

// call sends one developer-key request. 429s wait Retry-After (or 10 s) and 5xx are retried for
// idempotent methods, within MaxAttempts; DAILY limits are not waited for. Errors never show the
// key: it is only in the query string, which no error repeats.
func (s *AppSync) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("hubspot: encode %s %s: %w", method, path, err)
		}
	}
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("hapikey", s.DeveloperKey)
	u := strings.TrimRight(s.BaseURL, "/") + path + "?" + q.Encode()
	idempotent := method != http.MethodPost
	var last error
	for attempt := 1; attempt <= s.maxAttempts(); attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("hubspot: %s %s: %w", method, path, redact(err))
		}
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := s.httpClient().Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			last = &TemporaryError{Err: fmt.Errorf("%s %s: %w", method, path, redact(err))}
			if !idempotent {
				return last
			}
			if err := s.sleep(ctx, backoff(attempt)); err != nil {
				return err
			}
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		status := resp.StatusCode
		if status >= 200 && status < 300 {
			if out != nil && len(bytes.TrimSpace(body)) > 0 {
				if err := json.Unmarshal(body, out); err != nil {
					return fmt.Errorf("hubspot: decode %s %s: %w", method, path, err)
				}
			}
			return nil
		}
		var eb errorBody
		_ = json.Unmarshal(body, &eb)
		api := &APIError{Status: status, Method: method, Path: path, Category: eb.Category, Message: eb.Message, CorrelationID: eb.CorrelationID}
		if api.Message == "" && eb.Category == "" {
			api.Message = strings.TrimSpace(string(body[:min(len(body), 300)]))
		}
		switch {
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return &DeveloperKeyError{AppID: s.AppID, API: api}
		case status == http.StatusTooManyRequests:
			rl := &RateLimitedError{Policy: eb.PolicyName, RetryAfter: retryAfter(resp.Header, 10*time.Second), API: api}
			if rl.Policy == PolicyDaily || attempt == s.maxAttempts() {
				return rl
			}
			last = rl
			if err := s.sleep(ctx, rl.RetryAfter); err != nil {
				return err
			}
		case status >= 500 && idempotent:
			last = &TemporaryError{Status: status, Err: api}
			if attempt < s.maxAttempts() {
				if err := s.sleep(ctx, backoff(attempt)); err != nil {
					return err
				}
			}
		case status >= 500:
			return &TemporaryError{Status: status, Err: api}
		default:
			return &PermanentError{API: api}
		}
	}
	return last
}

// retryAfter reads Retry-After in seconds or as an HTTP date, else def.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	v := h.Get("Retry-After")
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return def
}

// redact drops the URL (which holds the hapikey) from an HTTP client error.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func normalizeURL(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }

func (s *AppSync) actionsPath() string {
	if s.ActionsPath != "" {
		return "/" + strings.Trim(s.ActionsPath, "/")
	}
	return DefaultActionsPath
}

func (s *AppSync) templatesPath() string {
	if s.TemplatesPath != "" {
		return "/" + strings.Trim(s.TemplatesPath, "/")
	}
	return DefaultTemplatesPath
}

func (s *AppSync) pageSize() int {
	if s.PageSize > 0 {
		return s.PageSize
	}
	return 100
}

func (s *AppSync) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return 4
}

func (s *AppSync) httpClient() *http.Client {
	if s.HTTP != nil {
		return s.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (s *AppSync) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	return sleepContext(ctx, d)
}

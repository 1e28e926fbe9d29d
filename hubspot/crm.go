package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"smsflow/hubspot/app"
)

// GetProperties reads some properties of a record; properties without a value are absent.
func (c *Client) GetProperties(ctx context.Context, portalID int64, objectType, objectID string, names []string) (map[string]string, error) {
	var resp struct {
		Properties map[string]*string `json:"properties"`
	}
	path := c.Paths.Objects + "/" + ObjectPath(objectType) + "/" + url.PathEscape(objectID)
	if _, err := c.do(ctx, portalID, http.MethodGet, path, url.Values{"properties": {strings.Join(names, ",")}}, nil, &resp); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range resp.Properties {
		if v != nil && *v != "" {
			out[k] = *v
		}
	}
	return out, nil
}

// UpdateProperties sets properties of a record (PATCH: idempotent).
func (c *Client) UpdateProperties(ctx context.Context, portalID int64, objectType, objectID string, props map[string]string) error {
	path := c.Paths.Objects + "/" + ObjectPath(objectType) + "/" + url.PathEscape(objectID)
	_, err := c.do(ctx, portalID, http.MethodPatch, path, nil, map[string]any{"properties": props}, nil)
	return err
}

// ID is a HubSpot object id that arrives as a JSON number or a JSON string.
type ID string

// UnmarshalJSON accepts 123, "123" and null.
func (id *ID) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*id = ""
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*id = ID(strings.TrimSpace(v))
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("hubspot: id %s is neither a number nor a string", s)
	}
	*id = ID(n.String())
	return nil
}

// Associations lists the ids of the toType records associated with a record (v4, every page).
func (c *Client) Associations(ctx context.Context, portalID int64, fromType, fromID, toType string) ([]string, error) {
	path := c.Paths.Associations + "/" + ObjectPath(fromType) + "/" + url.PathEscape(fromID) + "/associations/" + ObjectPath(toType)
	var ids []string
	after := ""
	for page := 0; page < 1000; page++ {
		q := url.Values{"limit": {"500"}}
		if after != "" {
			q.Set("after", after)
		}
		var resp struct {
			Results []struct {
				ToObjectID ID `json:"toObjectId"`
			} `json:"results"`
			Paging *struct {
				Next *struct {
					After string `json:"after"`
				} `json:"next"`
			} `json:"paging"`
		}
		if _, err := c.do(ctx, portalID, http.MethodGet, path, q, nil, &resp); err != nil {
			return nil, err
		}
		for _, r := range resp.Results {
			if r.ToObjectID != "" {
				ids = append(ids, string(r.ToObjectID))
			}
		}
		if resp.Paging == nil || resp.Paging.Next == nil || resp.Paging.Next.After == "" || resp.Paging.Next.After == after {
			return ids, nil
		}
		after = resp.Paging.Next.After
	}
	return ids, nil
}

// Phone is where a record's phone number was found.
type Phone struct {
	Number     string
	ObjectType string // contacts or companies
	ObjectID   string
	Property   string
}

// FindPhone finds the number to send to: the record's own phone properties (in the order given),
// and for a deal, ticket or other record without a phone, its associated contacts' then
// companies'. Nothing found → ErrNoPhone.
func (c *Client) FindPhone(ctx context.Context, portalID int64, objectType, objectID string, properties []string) (Phone, error) {
	t := ObjectPath(objectType)
	first := func(typ, id string) (Phone, bool, error) {
		vals, err := c.GetProperties(ctx, portalID, typ, id, properties)
		if err != nil {
			return Phone{}, false, err
		}
		for _, p := range properties {
			if v := strings.TrimSpace(vals[p]); v != "" {
				return Phone{Number: v, ObjectType: typ, ObjectID: id, Property: p}, true, nil
			}
		}
		return Phone{}, false, nil
	}
	if t == "contacts" || t == "companies" {
		p, ok, err := first(t, objectID)
		if err != nil || ok {
			return p, err
		}
		return Phone{}, ErrNoPhone
	}
	for _, to := range []string{"contacts", "companies"} {
		ids, err := c.Associations(ctx, portalID, t, objectID, to)
		if err != nil {
			return Phone{}, err
		}
		for _, id := range ids {
			p, ok, err := first(to, id)
			if err != nil || ok {
				return p, err
			}
		}
	}
	return Phone{}, ErrNoPhone
}

// Note is the fallback record of a status change for portals that cannot use timeline events.
type Note struct {
	EventID    string // EventID(message, status): a retried write finds the first note
	ObjectType string
	ObjectID   string
	Body       string // HTML allowed by HubSpot notes
	Timestamp  time.Time
	// FirstTry says no earlier try can have written this note: the search for it is skipped (one
	// call less), and the note still carries its EventID for later tries.
	FirstTry bool
}

// noteAssociationTypes are HubSpot's default note→record association type ids.
var noteAssociationTypes = map[string]int{"contacts": 202, "companies": 190, "deals": 214, "tickets": 228}

// noteInput is the body of a note's creation: its properties and its association with the record.
// A record type notes cannot be associated with is a *PermanentError.
func (c *Client) noteInput(n Note) (map[string]any, error) {
	t := ObjectPath(n.ObjectType)
	typeID, ok := noteAssociationTypes[t]
	if !ok {
		// Not a fault a retry can fix: the lifecycle records it and goes on.
		return nil, &PermanentError{API: &APIError{Method: http.MethodPost, Path: "notes", Category: "UNSUPPORTED_OBJECT_TYPE",
			Message: fmt.Sprintf("notes on %s records are not supported", t)}}
	}
	props := map[string]string{"hs_note_body": n.Body, "hs_timestamp": n.Timestamp.UTC().Format(time.RFC3339Nano)}
	if c.NoteDedupProperty != "" && n.EventID != "" {
		props[c.NoteDedupProperty] = n.EventID
	}
	return map[string]any{
		"properties": props,
		"associations": []any{map[string]any{
			"to":    map[string]string{"id": n.ObjectID},
			"types": []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": typeID}},
		}},
	}, nil
}

// CreateNote adds a note engagement associated with the record, once per EventID when
// NoteDedupProperty is set (it is searched first, unless FirstTry, then written on the note).
func (c *Client) CreateNote(ctx context.Context, portalID int64, n Note) error {
	body, err := c.noteInput(n)
	if err != nil {
		return err
	}
	if c.NoteDedupProperty != "" && n.EventID != "" && !n.FirstTry {
		var found struct {
			Total int `json:"total"`
		}
		search := map[string]any{"filterGroups": []any{map[string]any{"filters": []any{map[string]any{
			"propertyName": c.NoteDedupProperty, "operator": "EQ", "value": n.EventID}}}}, "limit": 1}
		if _, err := c.do(ctx, portalID, http.MethodPost, c.Paths.Objects+"/notes/search", nil, search, &found); err != nil {
			return err
		}
		if found.Total > 0 {
			return nil
		}
	}
	_, err = c.do(ctx, portalID, http.MethodPost, c.Paths.Objects+"/notes", nil, body, nil)
	return err
}

// CreateNoteBatch adds up to MaxBatchInputs notes in one call (POST {Objects}/notes/batch/create).
// With NoteDedupProperty set, the notes an earlier try may have written (not FirstTry) are
// searched for first, all in one search call, and those found count as written. Written and the
// ids of Errors are EventIDs; with NoteDedupProperty unset, a batch HubSpot took writes them all.
// A note on a record type notes cannot be associated with is refused on its own.
func (c *Client) CreateNoteBatch(ctx context.Context, portalID int64, notes []Note) (BatchResult, error) {
	if err := c.checkBatch(len(notes)); err != nil {
		return BatchResult{}, err
	}
	var out BatchResult
	found := map[string]bool{}
	if c.NoteDedupProperty != "" {
		var retried []string
		for _, n := range notes {
			if !n.FirstTry && n.EventID != "" {
				retried = append(retried, n.EventID)
			}
		}
		if len(retried) > 0 {
			var resp struct {
				Results []struct {
					Properties map[string]string `json:"properties"`
				} `json:"results"`
			}
			search := map[string]any{"filterGroups": []any{map[string]any{"filters": []any{map[string]any{
				"propertyName": c.NoteDedupProperty, "operator": "IN", "values": retried}}}},
				"properties": []string{c.NoteDedupProperty}, "limit": MaxBatchInputs}
			if _, err := c.do(ctx, portalID, http.MethodPost, c.Paths.Objects+"/notes/search", nil, search, &resp); err != nil {
				return BatchResult{}, err
			}
			for _, r := range resp.Results {
				if id := r.Properties[c.NoteDedupProperty]; id != "" && !found[id] {
					found[id] = true
					out.Written = append(out.Written, id)
				}
			}
		}
	}
	var inputs []any
	var sent []Note
	for _, n := range notes {
		if found[n.EventID] {
			continue
		}
		in, err := c.noteInput(n)
		if err != nil {
			out.Errors = append(out.Errors, BatchItemError{Category: "UNSUPPORTED_OBJECT_TYPE", Message: err.Error(), Context: map[string]any{"id": n.EventID}})
			continue
		}
		inputs, sent = append(inputs, in), append(sent, n)
	}
	if len(inputs) == 0 {
		return out, nil
	}
	var resp struct {
		Results []struct {
			Properties map[string]string `json:"properties"`
		} `json:"results"`
		Errors []BatchItemError `json:"errors"`
	}
	if _, err := c.do(ctx, portalID, http.MethodPost, c.Paths.Objects+"/notes/batch/create", nil, map[string]any{"inputs": inputs}, &resp); err != nil {
		return BatchResult{}, err
	}
	if c.NoteDedupProperty == "" {
		if len(resp.Errors) == 0 {
			for _, n := range sent {
				out.Written = append(out.Written, n.EventID)
			}
		}
		return out, nil
	}
	for _, r := range resp.Results {
		if id := r.Properties[c.NoteDedupProperty]; id != "" {
			out.Written = append(out.Written, id)
		}
	}
	out.Errors = append(out.Errors, resp.Errors...)
	return out, nil
}

// EnsureProperties creates our property group and properties on every object type the app
// definitions name; those that exist (409) are left as they are.
func (c *Client) EnsureProperties(ctx context.Context, portalID int64) error {
	defs, err := app.LoadProperties()
	if err != nil {
		return err
	}
	for _, set := range defs.Sets {
		base := c.Paths.Properties + "/" + ObjectPath(set.ObjectType)
		if err := c.createOnce(ctx, portalID, base+"/groups", defs.Group); err != nil {
			return fmt.Errorf("create property group on %s: %w", set.ObjectType, err)
		}
		for _, p := range set.Properties {
			p.GroupName = defs.Group.Name
			if err := c.createOnce(ctx, portalID, base, p); err != nil {
				return fmt.Errorf("create property %s on %s: %w", p.Name, set.ObjectType, err)
			}
		}
	}
	return nil
}

func (c *Client) createOnce(ctx context.Context, portalID int64, path string, body any) error {
	_, err := c.do(ctx, portalID, http.MethodPost, path, nil, body, nil)
	if hasStatus(err, []int{http.StatusConflict}) {
		return nil
	}
	return err
}

// AccountTimeZone is the portal's time zone setting (IANA name, e.g. "US/Eastern"), which decides
// when its DAILY API limit resets.
func (c *Client) AccountTimeZone(ctx context.Context, portalID int64) (string, error) {
	var resp struct {
		PortalID ID     `json:"portalId"`
		TimeZone string `json:"timeZone"`
	}
	if _, err := c.do(ctx, portalID, http.MethodGet, c.Paths.AccountInfo, nil, nil, &resp); err != nil {
		return "", err
	}
	if resp.PortalID != "" && string(resp.PortalID) != strconv.FormatInt(portalID, 10) {
		return "", errors.New("hubspot: account details of another portal")
	}
	return resp.TimeZone, nil
}

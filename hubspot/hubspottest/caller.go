package hubspottest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"smsflow/hubspot"
)

// Execution is one run of a custom workflow action, as HubSpot POSTs it to the actionUrl.
type Execution struct {
	CallbackID         string
	PortalID           int64
	ActionDefinitionID int64
	WorkflowID         int64
	ObjectType         string // upper case, as HubSpot sends it: CONTACT, DEAL
	ObjectID           int64
	Properties         map[string]string // the objectRequestOptions properties
	Inputs             map[string]string // every value a string, as HubSpot sends them
}

// Body is the JSON HubSpot sends (ids as numbers, inputs as strings).
func (e Execution) Body() []byte {
	props := e.Properties
	if props == nil {
		props = map[string]string{}
	}
	inputs := e.Inputs
	if inputs == nil {
		inputs = map[string]string{}
	}
	b, _ := json.Marshal(map[string]any{
		"callbackId":  e.CallbackID,
		"origin":      map[string]any{"portalId": e.PortalID, "actionDefinitionId": e.ActionDefinitionID, "actionDefinitionVersion": 1},
		"context":     map[string]any{"source": "WORKFLOWS", "workflowId": e.WorkflowID},
		"object":      map[string]any{"objectId": e.ObjectID, "objectType": e.ObjectType, "properties": props},
		"inputFields": inputs,
	})
	return b
}

// ActionResponse is what HubSpot made of our answer.
type ActionResponse struct {
	Status   int               // HTTP status of the last attempt
	State    string            // hs_execution_state, or what HubSpot infers from the status
	Outputs  map[string]string // outputFields
	Attempts int
}

// Caller plays HubSpot executing an action: it signs (v2 and v3 headers), POSTs, and retries 5xx,
// timeouts and 429s (honouring Retry-After) like HubSpot does, with compressed time.
type Caller struct {
	Secret      string
	HTTP        *http.Client
	MaxAttempts int                   // default 5
	Sleep       func(d time.Duration) // default: no wait (time is compressed)
	Now         func() time.Time
}

// SignedRequest builds the signed POST of body to url, as HubSpot would send it at now.
func SignedRequest(ctx context.Context, secret, url string, body []byte, now time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: smsflow-fake)")
	hubspot.SignRequest(req, secret, url, body, now)
	return req, nil
}

// Execute delivers the execution to url until HubSpot would stop retrying.
func (c *Caller) Execute(ctx context.Context, url string, ex Execution) (ActionResponse, error) {
	httpc := c.HTTP
	if httpc == nil {
		httpc = &http.Client{Timeout: 10 * time.Second}
	}
	attempts := c.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	body := ex.Body()
	var out ActionResponse
	for out.Attempts < attempts {
		out.Attempts++
		req, err := SignedRequest(ctx, c.Secret, url, body, now())
		if err != nil {
			return out, err
		}
		resp, err := httpc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			out.Status, out.State = 0, ""
			c.wait(time.Duration(out.Attempts) * time.Second) // a timeout counts like a 5xx
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out.Status = resp.StatusCode
		var parsed struct {
			Outputs map[string]any `json:"outputFields"`
		}
		_ = json.Unmarshal(raw, &parsed)
		out.Outputs = map[string]string{}
		for k, v := range parsed.Outputs {
			out.Outputs[k] = fmt.Sprint(v)
		}
		if s := out.Outputs[hubspot.OutputState]; s != "" && resp.StatusCode < 300 {
			out.State = s
			return out, nil
		}
		switch {
		case resp.StatusCode < 300:
			out.State = hubspot.StateSuccess
			return out, nil
		case resp.StatusCode == http.StatusTooManyRequests:
			secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			c.wait(time.Duration(secs) * time.Second)
		case resp.StatusCode >= 500:
			c.wait(time.Duration(1<<out.Attempts) * time.Second)
		default:
			out.State = "FAILED" // HubSpot marks the action failed on other 4xx
			return out, nil
		}
	}
	out.State = "RETRYING" // HubSpot would go on retrying for up to 3 days
	return out, nil
}

func (c *Caller) wait(d time.Duration) {
	if c.Sleep != nil {
		c.Sleep(d)
	}
}

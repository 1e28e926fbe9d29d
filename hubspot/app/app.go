// Package app holds the HubSpot app's definitions as data: the custom workflow actions
// (actions/*.json, the body of POST /automation/v4/actions/{appId} with {{PUBLIC_BASE_URL}} to fill
// in), the timeline event templates (one per status) and our CRM properties. The installer and
// the tests read them from here, so the files are the single source.
package app

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
)

//go:embed *.json actions/*.json
var files embed.FS

// PropertyOption is one choice of an enumeration property.
type PropertyOption struct {
	Label        string `json:"label"`
	Value        string `json:"value"`
	DisplayOrder int    `json:"displayOrder"`
}

// Property is the body of POST /crm/v3/properties/{objectType}.
type Property struct {
	Name        string           `json:"name"`
	Label       string           `json:"label"`
	Description string           `json:"description,omitempty"`
	Type        string           `json:"type"`
	FieldType   string           `json:"fieldType"`
	GroupName   string           `json:"groupName"`
	Options     []PropertyOption `json:"options,omitempty"`
	Hidden      bool             `json:"hidden,omitempty"`
}

// PropertyGroup is the body of POST /crm/v3/properties/{objectType}/groups.
type PropertyGroup struct {
	Name         string `json:"name"`
	Label        string `json:"label"`
	DisplayOrder int    `json:"displayOrder"`
}

// PropertySet is the properties to create on one object type.
type PropertySet struct {
	ObjectType string
	Properties []Property
}

// Properties is everything the installer creates in a portal.
type Properties struct {
	Group PropertyGroup
	Sets  []PropertySet
}

// LoadProperties reads properties.json.
func LoadProperties() (Properties, error) {
	var raw struct {
		Group PropertyGroup `json:"group"`
		Sets  []struct {
			ObjectType string `json:"objectType"`
			Properties string `json:"properties"`
		} `json:"sets"`
		Record []Property `json:"record"`
		Note   []Property `json:"note"`
	}
	if err := readJSON("properties.json", &raw); err != nil {
		return Properties{}, err
	}
	out := Properties{Group: raw.Group}
	for _, s := range raw.Sets {
		var props []Property
		switch s.Properties {
		case "record":
			props = raw.Record
		case "note":
			props = raw.Note
		default:
			return Properties{}, fmt.Errorf("app: properties.json: unknown property list %q", s.Properties)
		}
		out.Sets = append(out.Sets, PropertySet{ObjectType: s.ObjectType, Properties: props})
	}
	return out, nil
}

// Action returns a custom action definition ("sms", "voice", "ivr") with its actionUrl pointing at
// publicBaseURL.
func Action(kind, publicBaseURL string) (map[string]any, error) {
	b, err := files.ReadFile("actions/send-" + kind + ".json")
	if err != nil {
		return nil, fmt.Errorf("app: no action %q: %w", kind, err)
	}
	s := strings.ReplaceAll(string(b), "{{PUBLIC_BASE_URL}}", strings.TrimRight(publicBaseURL, "/"))
	var def map[string]any
	if err := json.Unmarshal([]byte(s), &def); err != nil {
		return nil, fmt.Errorf("app: action %q: %w", kind, err)
	}
	return def, nil
}

// TimelineTemplate is one event template (one per status).
type TimelineTemplate struct {
	Status         string `json:"status"`
	Name           string `json:"name"`
	HeaderTemplate string `json:"headerTemplate"`
	DetailTemplate string `json:"detailTemplate"`
}

// TimelineTemplates reads timeline-templates.json: the shared tokens and one template per status.
func TimelineTemplates() (objectType string, tokens []map[string]any, templates []TimelineTemplate, err error) {
	var raw struct {
		ObjectType string             `json:"objectType"`
		Tokens     []map[string]any   `json:"tokens"`
		Templates  []TimelineTemplate `json:"templates"`
	}
	if err := readJSON("timeline-templates.json", &raw); err != nil {
		return "", nil, nil, err
	}
	return raw.ObjectType, raw.Tokens, raw.Templates, nil
}

func readJSON(name string, v any) error {
	b, err := files.ReadFile(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("app: %s: %w", name, err)
	}
	return nil
}

// ProjectVariable is the HubSpot developer project's profile variable holding the API's public
// base URL (hubspot-project/src/hsprofile.*.json), written ${PUBLIC_BASE_URL} in its files.
const ProjectVariable = "PUBLIC_BASE_URL"

// ActionKinds are the custom workflow actions, by the name of their definition file.
var ActionKinds = []string{"sms", "voice", "ivr"}

// ProjectAction returns an action as a workflow-action component of the HubSpot developer
// project: the same definition as the one bin/hubspotapp registers, published under the
// platform's key (isPublished) for the workflows client, its URLs on ${PUBLIC_BASE_URL}.
func ProjectAction(kind string) ([]byte, error) {
	raw, err := files.ReadFile("actions/send-" + kind + ".json")
	if err != nil {
		return nil, fmt.Errorf("app: no action %q: %w", kind, err)
	}
	s := strings.ReplaceAll(string(raw), "{{PUBLIC_BASE_URL}}", "${"+ProjectVariable+"}")
	if strings.Count(s, `"published":`) != 1 {
		return nil, fmt.Errorf("app: action %q: want one \"published\" key", kind)
	}
	s = strings.Replace(s, `"published":`, `"supportedClients": [{"client": "WORKFLOWS"}], "isPublished":`, 1)
	component := `{"uid": "smsflow_send_` + kind + `", "type": "workflow-action", "config": ` + s + "}"
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(component), "", "  "); err != nil {
		return nil, fmt.Errorf("app: action %q: %w", kind, err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// ProjectFiles are the files of the HubSpot developer project generated from these definitions,
// by path under hubspot-project/ (`bin/hubspotapp -write-project hubspot-project` writes them).
func ProjectFiles() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, kind := range ActionKinds {
		b, err := ProjectAction(kind)
		if err != nil {
			return nil, err
		}
		out[ProjectActionPath(kind)] = b
	}
	return out, nil
}

// ProjectActionPath is where an action's component lives in the project.
func ProjectActionPath(kind string) string {
	return "src/app/workflow-actions/send-" + kind + "-hsmeta.json"
}

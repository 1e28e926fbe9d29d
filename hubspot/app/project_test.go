package app_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"smsflow/config"
	"smsflow/hubspot/app"
)

// projectDir is the HubSpot developer project at the repository's root.
const projectDir = "../../hubspot-project"

// The workflow actions of the HubSpot developer project are generated from actions/*.json: a
// definition changed on one side only fails here.
func TestProjectActionsInStep(t *testing.T) {
	files, err := app.ProjectFiles()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(projectDir, path))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not what hubspot/app/actions generates (%v); run `go run ./cmd/hubspotapp -write-project hubspot-project`", path, err)
		}
	}
	found, err := filepath.Glob(filepath.Join(projectDir, "src/app/workflow-actions/*-hsmeta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(files) {
		t.Errorf("the project has %d workflow actions, hubspot/app %d: %v", len(found), len(files), found)
	}
	// The project's component is the definition bin/hubspotapp registers, on the profile's URL.
	for _, kind := range app.ActionKinds {
		def, err := app.Action(kind, "${"+app.ProjectVariable+"}")
		if err != nil {
			t.Fatal(err)
		}
		var component struct {
			UID    string         `json:"uid"`
			Type   string         `json:"type"`
			Config map[string]any `json:"config"`
		}
		if err := json.Unmarshal(files[app.ProjectActionPath(kind)], &component); err != nil {
			t.Fatal(err)
		}
		if component.Type != "workflow-action" || !strings.HasPrefix(component.UID, "smsflow_send_") {
			t.Errorf("%s: uid %q type %q", kind, component.UID, component.Type)
		}
		cfg := component.Config
		if cfg["isPublished"] != def["published"] || cfg["supportedClients"] == nil {
			t.Errorf("%s: isPublished %v supportedClients %v", kind, cfg["isPublished"], cfg["supportedClients"])
		}
		delete(cfg, "isPublished")
		delete(cfg, "supportedClients")
		delete(def, "published")
		a, _ := json.Marshal(cfg)
		b, _ := json.Marshal(def)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the project's config differs from the definition", kind)
		}
	}
}

// The project's app asks for the scopes the OAuth install asks for, and lets the card fetch the API.
func TestProjectAppMatchesConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(projectDir, "src/app/app-hsmeta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var appMeta struct {
		Config struct {
			Auth struct {
				RedirectURLs   []string `json:"redirectUrls"`
				RequiredScopes []string `json:"requiredScopes"`
				OptionalScopes []string `json:"optionalScopes"`
			} `json:"auth"`
			PermittedURLs struct {
				Fetch []string `json:"fetch"`
			} `json:"permittedUrls"`
		} `json:"config"`
	}
	if err := json.Unmarshal(b, &appMeta); err != nil {
		t.Fatal(err)
	}
	defaults := map[string]string{}
	for _, v := range config.Vars {
		defaults[v.Name] = v.Default
	}
	auth := appMeta.Config.Auth
	if want := strings.Fields(defaults["HUBSPOT_SCOPES"]); !slices.Equal(auth.RequiredScopes, want) {
		t.Errorf("requiredScopes %v, HUBSPOT_SCOPES %v", auth.RequiredScopes, want)
	}
	if want := strings.Fields(defaults["HUBSPOT_OPTIONAL_SCOPES"]); !slices.Equal(auth.OptionalScopes, want) {
		t.Errorf("optionalScopes %v, HUBSPOT_OPTIONAL_SCOPES %v", auth.OptionalScopes, want)
	}
	base := "${" + app.ProjectVariable + "}"
	if !slices.Equal(auth.RedirectURLs, []string{base + "/oauth/callback"}) || !slices.Equal(appMeta.Config.PermittedURLs.Fetch, []string{base}) {
		t.Errorf("redirectUrls %v, permittedUrls.fetch %v", auth.RedirectURLs, appMeta.Config.PermittedURLs.Fetch)
	}
}

package app_test

import (
	"slices"
	"testing"

	"smsflow/hubspot/app"
	"smsflow/outcome"
)

func TestSendSMSDefinition(t *testing.T) {
	def, err := app.Action("sms", "https://sms.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	if def["actionUrl"] != "https://sms.example.com/hubspot/actions/sms" {
		t.Fatalf("actionUrl = %v", def["actionUrl"])
	}
	var inputs, outputs []string
	for _, f := range def["inputFields"].([]any) {
		inputs = append(inputs, f.(map[string]any)["typeDefinition"].(map[string]any)["name"].(string))
	}
	statuses := map[string]bool{}
	for _, f := range def["outputFields"].([]any) {
		td := f.(map[string]any)["typeDefinition"].(map[string]any)
		outputs = append(outputs, td["name"].(string))
		if td["name"] == "sms_status" {
			for _, o := range td["options"].([]any) {
				statuses[o.(map[string]any)["value"].(string)] = true
			}
		}
	}
	for _, in := range []string{"phone_property", "country", "sender", "message_type", "message", "allow_unicode", "add_stop", "unsubscribe_url",
		"shorten_urls", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "campaign_name", "send_at", "wait_for", "wait_hours"} {
		if !slices.Contains(inputs, in) {
			t.Errorf("input %s missing", in)
		}
	}
	for _, out := range []string{"sms_status", "message_id", "campaign_name", "segments", "encoding", "error_code", "error_message"} {
		if !slices.Contains(outputs, out) {
			t.Errorf("output %s missing", out)
		}
	}
	for _, s := range outcome.SMSStatuses {
		if !statuses[string(s)] {
			t.Errorf("sms_status option %s missing", s)
		}
	}
	labels := def["labels"].(map[string]any)
	var rules []string
	for _, r := range def["executionRules"].([]any) {
		rules = append(rules, r.(map[string]any)["labelName"].(string))
	}
	for _, lang := range []string{"en", "fr", "de", "es", "pt-br"} {
		l, ok := labels[lang].(map[string]any)
		if !ok {
			t.Fatalf("labels %s missing", lang)
		}
		in := l["inputFieldLabels"].(map[string]any)
		for _, name := range inputs {
			if in[name] == nil {
				t.Errorf("%s: no label for input %s", lang, name)
			}
		}
		er := l["executionRules"].(map[string]any)
		for _, r := range rules {
			if er[r] == nil {
				t.Errorf("%s: no message for execution rule %s", lang, r)
			}
		}
	}
	if props := def["objectRequestOptions"].(map[string]any)["properties"].([]any); !slices.Contains(props, any("mobilephone")) || !slices.Contains(props, any("phone")) {
		t.Errorf("objectRequestOptions = %v", props)
	}
}

func TestOtherDefinitions(t *testing.T) {
	for _, kind := range []string{"voice", "ivr"} {
		if _, err := app.Action(kind, "https://x"); err != nil {
			t.Error(err)
		}
	}
	props, err := app.LoadProperties()
	if err != nil || props.Group.Name == "" || len(props.Sets) < 4 {
		t.Fatalf("properties: %+v, %v", props, err)
	}
	for _, s := range props.Sets {
		if len(s.Properties) == 0 {
			t.Errorf("%s: no properties", s.ObjectType)
		}
	}
	_, tokens, templates, err := app.TimelineTemplates()
	if err != nil || len(tokens) == 0 || len(templates) != 13 {
		t.Fatalf("timeline templates: %d tokens, %d templates, %v", len(tokens), len(templates), err)
	}
}

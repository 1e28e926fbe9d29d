package main

import (
	"slices"
	"testing"

	"smsflow/hubspot/hubspottest"
)

// Calls differing only in ids count as one endpoint; API versions stay; a 429 is its own line.
func TestByEndpoint(t *testing.T) {
	calls := []hubspottest.Call{
		{Method: "POST", Path: "/automation/v4/actions/callbacks/held-12/complete", Status: 200},
		{Method: "POST", Path: "/automation/v4/actions/callbacks/held-7/complete", Status: 200},
		{Method: "POST", Path: "/automation/v4/actions/callbacks/held-7/complete", Status: 429},
		{Method: "PATCH", Path: "/crm/v3/objects/contacts/1000004", Status: 200},
	}
	got := byEndpoint(calls)
	want := []endpointCount{
		{"POST /automation/v4/actions/callbacks/{id}/complete", 2},
		{"PATCH /crm/v3/objects/contacts/{id}", 1},
		{"POST /automation/v4/actions/callbacks/{id}/complete → 429", 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("byEndpoint = %v, want %v", got, want)
	}
}

func TestRunLengths(t *testing.T) {
	got := runLengths([]string{"A", "B", "B", "C", "B"})
	if want := []string{"A", "B×2", "C", "B"}; !slices.Equal(got, want) {
		t.Fatalf("runLengths = %v, want %v", got, want)
	}
}

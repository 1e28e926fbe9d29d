package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"smsflow/outcome"
	"smsflow/workflows"
)

const e2eAdminToken = "e2e-admin-token"

// heldOnSunday sends a French marketing message on a Sunday afternoon and waits until it is held
// for Monday 08:00.
func heldOnSunday(t *testing.T, s *stack, callbackID string, contactID int64, number string) string {
	t.Helper()
	contact(s, strconv.FormatInt(contactID, 10), number)
	id := send(t, s, callbackID, contactID, inputs("message_type", "marketing", "message", "Promo du lundi"))
	for deadline := time.Now().Add(30 * time.Second); s.state(id).WakeAt == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the marketing message was never held")
		}
	}
	return id
}

// admin calls an operator endpoint of the stack's API with the admin token.
func (s *stack) admin(path, body string) int {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.apiURL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// closedStatus waits for the message's workflow to close and returns how it closed.
func (s *stack) closedStatus(messageID string) enumspb.WorkflowExecutionStatus {
	s.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		d, err := s.tc.DescribeWorkflowExecution(context.Background(), workflows.SMSWorkflowID(messageID), "")
		if err != nil {
			s.t.Fatal(err)
		}
		if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return st
		}
	}
	s.t.Fatalf("the workflow of %s is still running", messageID)
	return 0
}

// An uninstall stops a held message at once, not when it wakes on Monday: it ends NOT_SENT
// PORTAL_DISCONNECTED (CANCELLED while the workflow does not ask CancellationReason).
func TestUninstallEndsHeldMessage(t *testing.T) {
	sunday := time.Date(2026, 11, 29, 14, 0, 0, 0, paris)
	s := newStack(t, stackOptions{parisNow: sunday, env: map[string]string{"ADMIN_TOKEN": e2eAdminToken}})
	id := heldOnSunday(t, s, "cb-uninstall", 931, "+33612345691")
	if code := s.admin("/admin/portals/"+strconv.FormatInt(portal, 10)+"/disconnect", ""); code != http.StatusOK {
		t.Fatalf("disconnect answered %d", code)
	}
	if st := s.closedStatus(id); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Fatalf("the held message's workflow closed %v, want cancelled", st)
	}
	// The portal's token is gone with the app, so the action cannot be completed in HubSpot: the
	// outcome is in the message log.
	m, err := s.db.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != string(outcome.SMSNotSent) || m.ErrorCode != string(outcome.PortalDisconnected) {
		t.Fatalf("message log = %s %s, want NOT_SENT PORTAL_DISCONNECTED", m.Status, m.ErrorCode)
	}
	t.Logf("uninstalled held message ended %s %s", m.Status, m.ErrorCode)
	if s.sim.Stats().SendRequests != 0 {
		t.Fatal("the stopped message reached the carrier")
	}
}

// Erasing a number stops its held message, and the message's end stores nothing of it again.
func TestErasureEndsHeldMessageAndLeavesNoRow(t *testing.T) {
	sunday := time.Date(2026, 11, 29, 15, 0, 0, 0, paris)
	s := newStack(t, stackOptions{parisNow: sunday, env: map[string]string{"ADMIN_TOKEN": e2eAdminToken}})
	const number = "+33612345692"
	id := heldOnSunday(t, s, "cb-erase", 932, number)
	body := `{"portal_id": ` + strconv.FormatInt(portal, 10) + `, "phone": "` + number + `"}`
	if code := s.admin("/admin/erasure", body); code != http.StatusOK {
		t.Fatalf("erasure answered %d", code)
	}
	if st := s.closedStatus(id); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Fatalf("the held message's workflow closed %v, want cancelled", st)
	}
	c := s.completion("cb-erase")
	if c.Outputs["sms_status"] != string(outcome.SMSNotSent) || c.Outputs["error_code"] != string(outcome.Erased) {
		t.Fatalf("completed with %v, want NOT_SENT ERASED", c.Outputs)
	}
	t.Logf("erased held message completed with error_code %s", c.Outputs["error_code"])
	var rows int
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM messages WHERE id = $1 OR phone = $2) +
	(SELECT count(*) FROM message_events WHERE message_id = $1) + (SELECT count(*) FROM hubspot_outbox WHERE message_id = $1)`,
		id, number).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("rows of the erased message after its workflow ended: %d, %v", rows, err)
	}
}

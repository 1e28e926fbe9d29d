package workflows

import (
	"strconv"

	"github.com/google/uuid"
)

// messageNamespace makes message ids from HubSpot callback ids (UUID v5), so a retried delivery of
// the same action execution maps to the same message and the same workflow.
var messageNamespace = uuid.MustParse("6f1c1f3e-3c1b-4f59-8b7a-9a4f2e8d6c10")

// MessageIDForCallback is the message id of a HubSpot action execution.
func MessageIDForCallback(portalID int64, callbackID string) string {
	return uuid.NewSHA1(messageNamespace, []byte(strconv.FormatInt(portalID, 10)+"/"+callbackID)).String()
}

// SMSWorkflowID is the workflow id of a message: webhooks signal it knowing only the message id.
func SMSWorkflowID(messageID string) string { return "sms-" + messageID }

package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"smsflow/hubspot"
)

// maxWebhookBody bounds a HubSpot webhook delivery (up to 100 events).
const maxWebhookBody = 1 << 20

// webhookEvent is one event of a HubSpot webhook delivery (webhooks v3: a JSON array of them).
type webhookEvent struct {
	EventID          json.Number `json:"eventId"`
	SubscriptionType string      `json:"subscriptionType"`
	PortalID         int64       `json:"portalId"`
	ObjectID         json.Number `json:"objectId"`
}

// privacyDeletion is the subscription HubSpot sends when a contact is deleted for privacy
// (GDPR delete): what our messages to the contact hold is erased.
const privacyDeletion = "contact.privacyDeletion"

// registerWebhooks adds POST /hubspot/webhooks, the target of the app's webhook subscriptions,
// signed with HubSpot's v3 signature (X-HubSpot-Signature-v3 and its timestamp); events of other
// subscriptions are acknowledged and ignored.
func registerWebhooks(r *gin.Engine, d Deps) {
	r.POST("/hubspot/webhooks", func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxWebhookBody))
		if err != nil {
			c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body too large"})
			return
		}
		uri := d.Config.PublicBaseURL + c.Request.URL.RequestURI()
		err = hubspot.ErrSignatureMissing
		if c.GetHeader(hubspot.HeaderSignatureV3) != "" {
			err = hubspot.VerifyRequest(d.Config.HubSpot.ClientSecret, c.Request.Header, c.Request.Method, uri, body, time.Now())
		}
		if err != nil {
			d.Log.Warn("hubspot webhook refused", "reason", err.Error())
			c.JSON(http.StatusUnauthorized, gin.H{"error": "invalid HubSpot signature"})
			return
		}
		var events []webhookEvent
		if err := json.Unmarshal(body, &events); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "malformed webhook events: " + err.Error()})
			return
		}
		var erase []webhookEvent
		for _, e := range events {
			if e.SubscriptionType == privacyDeletion && e.PortalID > 0 && e.ObjectID != "" {
				erase = append(erase, e)
			}
		}
		if len(erase) == 0 {
			c.Status(http.StatusNoContent)
			return
		}
		eraser, ok := newEraser(c, d)
		if !ok {
			return // 503: HubSpot delivers again
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), adminTimeout)
		defer cancel()
		for _, e := range erase {
			done, err := eraser.EraseRecord(ctx, e.PortalID, "contact", e.ObjectID.String())
			if err != nil {
				d.Log.Error("privacy deletion failed", "portal_id", e.PortalID, "event_id", e.EventID.String(), "error", err)
				c.JSON(http.StatusInternalServerError, gin.H{"error": "erasure failed; deliver again"})
				return
			}
			d.Log.Info("privacy deletion", "portal_id", e.PortalID, "event_id", e.EventID.String(),
				"object_id", e.ObjectID.String(), "messages", done.Messages, "workflows_cancelled", done.WorkflowsCancelled)
		}
		c.Status(http.StatusNoContent)
	})
}

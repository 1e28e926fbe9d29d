package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"smsflow/phone"
	"smsflow/retention"
)

// adminTimeout bounds an operator request: an erasure lists and cancels a number's workflows, a
// disconnect a portal's.
const adminTimeout = 2 * time.Minute

// registerAdmin adds the operator endpoints, behind the ADMIN_TOKEN bearer token:
// POST /admin/erasure erases a number of a portal, POST /admin/portals/:id/disconnect disconnects
// a portal and stops its running messages.
func registerAdmin(r *gin.Engine, d Deps) {
	g := r.Group("/admin", adminOnly(d.Config.AdminToken))
	g.POST("/erasure", func(c *gin.Context) {
		var req struct {
			PortalID int64  `json:"portal_id"`
			Phone    string `json:"phone"`
			Country  string `json:"country"` // the region of a number written without its country code
		}
		if err := c.ShouldBindJSON(&req); err != nil || req.PortalID <= 0 || strings.TrimSpace(req.Phone) == "" {
			c.JSON(http.StatusBadRequest, gin.H{"error": `want {"portal_id": 62515, "phone": "+33612345678"}`})
			return
		}
		num, err := phone.Parse(req.Phone, req.Country)
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "phone: " + err.Error()})
			return
		}
		eraser, ok := newEraser(c, d)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), adminTimeout)
		defer cancel()
		done, err := eraser.EraseNumber(ctx, req.PortalID, num.E164)
		if err != nil {
			d.Log.Error("erasure failed", "portal_id", req.PortalID, "error", err)
			c.JSON(http.StatusInternalServerError, gin.H{"error": "erasure failed; it is safe to repeat", "erased": done})
			return
		}
		c.JSON(http.StatusOK, done)
	})
	g.POST("/portals/:id/disconnect", func(c *gin.Context) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil || id <= 0 {
			c.JSON(http.StatusBadRequest, gin.H{"error": "portal id: a positive integer"})
			return
		}
		if d.Store == nil || d.Temporal == nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "no database or no Temporal client"})
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), adminTimeout)
		defer cancel()
		n, err := disconnectPortal(ctx, d, id)
		if err != nil {
			d.Log.Error("portal disconnect failed", "portal_id", id, "error", err)
			c.JSON(http.StatusInternalServerError, gin.H{"error": "disconnect failed; it is safe to repeat", "workflows_cancelled": n})
			return
		}
		c.JSON(http.StatusOK, gin.H{"portal_id": id, "status": "disconnected", "workflows_cancelled": n})
	})
}

// disconnectPortal marks the portal disconnected, then cancels its running workflows: they end
// NOT_SENT PORTAL_DISCONNECTED now rather than when each wakes up.
func disconnectPortal(ctx context.Context, d Deps, portalID int64) (int, error) {
	if err := d.Store.DisconnectPortal(ctx, portalID); err != nil {
		return 0, err
	}
	return retention.PortalStopper{Temporal: d.Temporal, Namespace: d.Config.TemporalNamespace, TaskQueue: d.Config.TemporalTaskQueue}.StopPortal(ctx, portalID)
}

// newEraser builds the eraser of a request, answering 503 when the API lacks what it needs.
func newEraser(c *gin.Context, d Deps) (*retention.Eraser, bool) {
	if d.Store == nil || d.Temporal == nil || d.Config.PhoneHashKey == "" {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "erasure needs the database, Temporal and PHONE_HASH_KEY"})
		return nil, false
	}
	return &retention.Eraser{Store: d.Store, Temporal: d.Temporal, Namespace: d.Config.TemporalNamespace, TaskQueue: d.Config.TemporalTaskQueue,
		PhoneHashKey: []byte(d.Config.PhoneHashKey), Log: d.Log}, true
}

// adminOnly refuses, 401, a request without "Authorization: Bearer <ADMIN_TOKEN>"; with no token
// configured, every request.
func adminOnly(token string) gin.HandlerFunc {
	return func(c *gin.Context) {
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if token == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="smsflow-admin"`)
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "admin token required"})
			return
		}
		c.Next()
	}
}

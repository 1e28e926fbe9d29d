package api

import "github.com/gin-gonic/gin"

// registerHubSpot adds the HubSpot routes: workflow actions, OAuth, CRM card (issue 5).
func registerHubSpot(r *gin.Engine, d Deps) {}

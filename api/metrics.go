package api

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"smsflow/metrics"
)

// observe records each answer's time by route template (an unmatched path counts as
// "unmatched", so scanners do not grow the label set).
func observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		metrics.HTTPDuration.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
	}
}

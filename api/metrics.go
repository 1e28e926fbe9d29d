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

// Steps of accepting an action execution, as metrics.ActionAcceptPhase names them.
const (
	phaseVerify   = "verify"   // read the body, check HubSpot's signature
	phaseValidate = "validate" // decode the execution, check its inputs
	phasePrevious = "previous" // look up an earlier outcome of the callbackId
	phaseStart    = "start"    // start (or find) the message workflow
)

// phaseClock times consecutive steps of one answer.
type phaseClock struct{ last time.Time }

func newPhaseClock() *phaseClock { return &phaseClock{last: time.Now()} }

// done records the time since the previous step ended as phase's.
func (p *phaseClock) done(phase string) {
	now := time.Now()
	metrics.ActionAcceptPhase.WithLabelValues(phase).Observe(now.Sub(p.last).Seconds())
	p.last = now
}

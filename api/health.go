package api

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// readyz runs every check at once with a short deadline and answers 200 when all pass, else 503
// naming each part that is down and why.
func readyz(checks map[string]Check) gin.HandlerFunc {
	names := make([]string, 0, len(checks))
	for name := range checks {
		names = append(names, name)
	}
	sort.Strings(names)
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
		defer cancel()
		results := make([]error, len(names))
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = checks[name](ctx)
			}()
		}
		wg.Wait()
		status := map[string]string{}
		down := []string{}
		for i, name := range names {
			if results[i] != nil {
				status[name] = results[i].Error()
				down = append(down, name)
			} else {
				status[name] = "ok"
			}
		}
		if len(down) > 0 {
			c.JSON(503, gin.H{"status": "unavailable", "down": down, "checks": status})
			return
		}
		c.JSON(200, gin.H{"status": "ready", "checks": status})
	}
}

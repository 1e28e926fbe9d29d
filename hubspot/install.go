package hubspot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"smsflow/store"
)

// PortalStore is what the install and the DAILY reset time need of the portal table (store.Store).
type PortalStore interface {
	Portal(ctx context.Context, id int64) (store.Portal, error)
	SetPortalTimeZone(ctx context.Context, id int64, tz string) error
	MarkPropertiesReady(ctx context.Context, id int64) error
}

// SetUpPortal does the HubSpot side of an install: our property group and properties (409 =
// already there), and the portal's time zone. It is idempotent: the OAuth callback runs it in the
// background, and an activity may run it again for a portal whose properties_ready_at is NULL.
func SetUpPortal(ctx context.Context, c *Client, portals PortalStore, portalID int64) error {
	if err := c.EnsureProperties(ctx, portalID); err != nil {
		return fmt.Errorf("hubspot: set up portal %d: %w", portalID, err)
	}
	if err := portals.MarkPropertiesReady(ctx, portalID); err != nil {
		return err
	}
	tz, err := c.AccountTimeZone(ctx, portalID)
	if err != nil {
		return fmt.Errorf("hubspot: time zone of portal %d: %w", portalID, err)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return fmt.Errorf("hubspot: portal %d has time zone %q, unknown here: %w", portalID, tz, err)
	}
	return portals.SetPortalTimeZone(ctx, portalID, tz)
}

// PortalTimeZones is the Client.TimeZone of stored portals, cached for an hour.
func PortalTimeZones(portals PortalStore) func(ctx context.Context, portalID int64) *time.Location {
	type entry struct {
		loc *time.Location
		at  time.Time
	}
	var mu sync.Mutex
	cache := map[int64]entry{}
	return func(ctx context.Context, portalID int64) *time.Location {
		mu.Lock()
		e, ok := cache[portalID]
		mu.Unlock()
		if ok && time.Since(e.at) < time.Hour {
			return e.loc
		}
		p, err := portals.Portal(ctx, portalID)
		if err != nil || p.TimeZone == "" {
			return nil
		}
		loc, err := time.LoadLocation(p.TimeZone)
		if err != nil {
			return nil
		}
		mu.Lock()
		cache[portalID] = entry{loc, time.Now()}
		mu.Unlock()
		return loc
	}
}

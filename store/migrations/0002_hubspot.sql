-- HubSpot side (issue 5): what the client needs to know of a portal beyond its tokens.

-- The portal's time zone setting (IANA name from HubSpot's account details): its DAILY API limit
-- resets at midnight there. Empty until fetched; UTC is assumed meanwhile.
ALTER TABLE portals ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
-- When our property group and properties were created in the portal; NULL = still to do (the
-- install does it in the background, and an activity may retry it).
ALTER TABLE portals ADD COLUMN properties_ready_at TIMESTAMPTZ;

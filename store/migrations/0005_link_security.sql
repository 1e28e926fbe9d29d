-- Short links become capabilities: random codes (the unique index short_links_message_target of
-- 0004 keeps a retried activity on the code it made first), an expiry, and previews (link
-- unfurlers and scanners) counted apart from clicks.
ALTER TABLE short_links ADD COLUMN expires_at TIMESTAMPTZ;
-- Links made before this migration live the default LINK_TTL (400 days) from their creation.
UPDATE short_links SET expires_at = created_at + interval '400 days';
ALTER TABLE short_links ALTER COLUMN expires_at SET NOT NULL;
ALTER TABLE short_links ADD COLUMN previews INT NOT NULL DEFAULT 0;
CREATE INDEX short_links_expires ON short_links (expires_at);

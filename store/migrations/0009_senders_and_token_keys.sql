-- Sender ownership and token key rotation.

-- The sender ids and numbers each portal may send from. The action's sender must be one of its
-- portal's rows (compared by sender_key: numbers without their +, alphanumeric ids upper-cased, so
-- "Acme" cannot stand in for "ACME"); a message from any other sender ends NOT_SENT
-- SENDER_NOT_ALLOWED. A number shared by several portals has one row per portal.
CREATE TABLE portal_senders (
    portal_id   BIGINT NOT NULL,
    sender      TEXT NOT NULL,          -- as registered, sent as is
    sender_key  TEXT NOT NULL,
    -- the portal's default: what a message without a sender goes out from
    is_default  BOOLEAN NOT NULL DEFAULT false,
    -- manual (an operator), carrier (from the carrier account), migration (seeded below)
    source      TEXT NOT NULL DEFAULT 'manual',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, sender_key)
);
CREATE UNIQUE INDEX portal_senders_one_default ON portal_senders (portal_id) WHERE is_default;

-- Portals keep sending from the senders their messages already left from; an operator reviews
-- these rows (source 'migration') and removes any the portal does not own.
INSERT INTO portal_senders (portal_id, sender, sender_key, source)
SELECT DISTINCT ON (portal_id, upper(ltrim(sender, '+'))) portal_id, sender, upper(ltrim(sender, '+')), 'migration'
FROM messages WHERE sender <> '' AND sent_at IS NOT NULL
ORDER BY portal_id, upper(ltrim(sender, '+')), created_at;

-- Each token's ciphertexts name the key that sealed them, so the key can rotate. Rows written
-- before this migration were sealed with TOKEN_ENCRYPTION_KEY, whose id is 0.
ALTER TABLE oauth_tokens ADD COLUMN key_id TEXT NOT NULL DEFAULT '0';
ALTER TABLE oauth_tokens ALTER COLUMN key_id DROP DEFAULT;
-- Every write bumps version: a refresh writes only over the version it read (compare-and-swap),
-- so no connection or row lock is held while HubSpot answers.
ALTER TABLE oauth_tokens ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
-- One process refreshes a portal's token at a time: it claims the refresh until this instant,
-- the others wait for the new version (or the claim to lapse if that process died).
ALTER TABLE oauth_tokens ADD COLUMN refresh_claimed_until TIMESTAMPTZ;

-- What the message lifecycle needs beyond 0001: idempotent quota reservations, link kinds.

-- One row per message whose send was counted, so a retried check never counts twice.
CREATE TABLE quota_reservations (
    message_id  UUID PRIMARY KEY,
    portal_id   BIGINT NOT NULL,
    day         TEXT NOT NULL,
    month       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Tracked links (kind 'link', redirect to target_url) and unsubscribe links (kind 'unsubscribe').
ALTER TABLE short_links ADD COLUMN kind TEXT NOT NULL DEFAULT 'link';
CREATE UNIQUE INDEX short_links_message_target ON short_links (message_id, kind, target_url);

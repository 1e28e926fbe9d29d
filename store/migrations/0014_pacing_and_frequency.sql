-- Per-sender pacing and per-recipient frequency caps.

-- A sender's own rate in messages per second, overriding its class's (SENDER_RATES); NULL: the
-- class's. A number shared by several portals is paced as one, at the rate of the portal sending.
ALTER TABLE portal_senders ADD COLUMN messages_per_second DOUBLE PRECISION CHECK (messages_per_second > 0);

-- A pacing lane hands out send slots one interval apart: one lane per sender number (the
-- carrier's throughput is the number's), and one per sender and window opening for the held
-- messages waking then. next_slot is the lane's first free instant. Each reservation is one
-- single-row upsert, so the row is locked only for that statement.
CREATE TABLE pacing_lanes (
    lane        TEXT PRIMARY KEY,
    next_slot   TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The slot a message was given in a lane: a retried reservation gets the same slot.
CREATE TABLE pacing_slots (
    message_id  UUID NOT NULL,
    lane        TEXT NOT NULL,
    slot_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (message_id, lane)
);

-- Marketing messages counted per recipient (the keyed phone hash, never the number) and portal
-- for the frequency caps; one row per message, so a retried check counts it once.
CREATE TABLE frequency_sends (
    message_id  UUID PRIMARY KEY,
    portal_id   BIGINT NOT NULL,
    phone_hash  TEXT NOT NULL,
    counted_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX frequency_sends_recipient ON frequency_sends (portal_id, phone_hash, counted_at DESC);

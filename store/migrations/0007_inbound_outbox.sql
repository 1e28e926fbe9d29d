-- Inbound events are stored first and signalled to their workflow by an outbox; opt-outs keep
-- their history.

-- The portal an inbound event belongs to: the message's, or for a reply that answers no known
-- message, the portal owning the number it was sent to. NULL: unrouted.
ALTER TABLE message_events ADD COLUMN portal_id BIGINT;
-- The signal this event owes its message's workflow (NULL: none, e.g. a non-final report, a
-- repeated click, a signal past the per-message cap) and its payload (the workflow's signal
-- type, as JSON).
ALTER TABLE message_events ADD COLUMN signal_name TEXT;
ALTER TABLE message_events ADD COLUMN signal_payload JSONB;
-- When the signal may next be tried: a claim (by the webhook's fast path or a sweeper) moves it
-- one lease ahead, a failed try one backoff ahead.
ALTER TABLE message_events ADD COLUMN signal_due_at TIMESTAMPTZ;
ALTER TABLE message_events ADD COLUMN signal_attempts INT NOT NULL DEFAULT 0;
-- With signalled_at: signalled | gone (the workflow no longer runs) | refused (Temporal rejected
-- the signal itself).
ALTER TABLE message_events ADD COLUMN signal_result TEXT;
-- The sweeper's queue: signals owed and not yet delivered, oldest due first.
CREATE INDEX message_events_outbox ON message_events (signal_due_at, seq)
    WHERE signalled_at IS NULL AND message_id IS NOT NULL AND signal_name IS NOT NULL;

-- The history of every opt-out and opt-in; suppressions stays the current state (what a send
-- checks, by its primary key).
CREATE TABLE suppression_events (
    id          BIGSERIAL PRIMARY KEY,
    portal_id   BIGINT NOT NULL,
    channel     TEXT NOT NULL,
    phone       TEXT NOT NULL,
    action      TEXT NOT NULL,             -- opt_out | opt_in
    source      TEXT NOT NULL,             -- stop_reply | start_reply | unsubscribe_link | carrier_opt_out | manual
    keyword     TEXT NOT NULL DEFAULT '',  -- the reply's keyword (STOP, ARRET, START, …)
    message_id  UUID,                      -- the message replied to or whose link was used
    event_seq   BIGINT,                    -- message_events.seq of the inbound event, when one caused it
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (action IN ('opt_out', 'opt_in'))
);
CREATE INDEX suppression_events_number ON suppression_events (portal_id, channel, phone, at);
-- A workflow applying an opt-out the webhook already recorded finds it here.
CREATE INDEX suppression_events_message ON suppression_events (message_id, source, action) WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX suppression_events_event ON suppression_events (event_seq, portal_id, channel) WHERE event_seq IS NOT NULL;

-- Suppressions made before this migration start their history.
INSERT INTO suppression_events (portal_id, channel, phone, action, source, message_id, at)
SELECT portal_id, channel, phone, 'opt_out', reason, message_id, created_at FROM suppressions;

-- The portals sending from a number (a reply's receiving number, without its '+').
CREATE INDEX messages_sender ON messages (ltrim(sender, '+'), portal_id);

-- HubSpot writes leave the message lifecycle: Publish records them here in the transaction that
-- writes the message log, and the sender (hubspotsync) delivers them per portal, in batches.

-- One HubSpot write to make: a status change's timeline event (or note), or a record's properties
-- to bring up to date. A row is pending until done_at or dead_at is set.
CREATE TABLE hubspot_outbox (
    id               BIGSERIAL PRIMARY KEY,
    portal_id        BIGINT NOT NULL,
    message_id       UUID NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('timeline', 'properties')),
    -- the record written to, as the CRM paths name its type (contacts, deals, …)
    object_type      TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    payload          JSONB NOT NULL DEFAULT '{}',
    -- one row per write, whatever the retries of the step that enqueued it
    dedupe_key       TEXT NOT NULL UNIQUE,
    attempts         INT NOT NULL DEFAULT 0,
    -- due time; a claimed row is pushed to the end of its lease, so a sender that dies mid-batch
    -- leaves rows that come due again
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    claim_id         UUID,
    last_error       TEXT NOT NULL DEFAULT '',
    done_at          TIMESTAMPTZ,
    dead_at          TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The due rows of a portal, and the portals with pending rows; finished rows leave the index.
CREATE INDEX hubspot_outbox_pending ON hubspot_outbox (portal_id, next_attempt_at, id)
    WHERE done_at IS NULL AND dead_at IS NULL;
-- Finished rows are purged after a retention.
CREATE INDEX hubspot_outbox_finished ON hubspot_outbox (created_at)
    WHERE done_at IS NOT NULL OR dead_at IS NOT NULL;

-- One sender at a time delivers a portal's rows (its HubSpot budget, its write order): a lease.
-- paused_until parks the portal after a rate limit (a DAILY one: until the portal's next day).
CREATE TABLE hubspot_outbox_portals (
    portal_id     BIGINT PRIMARY KEY,
    lease_owner   TEXT NOT NULL DEFAULT '',
    lease_until   TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    paused_until  TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    pause_reason  TEXT NOT NULL DEFAULT ''
);

-- What our properties on a HubSpot record should say: the record's latest message (its id, its
-- place in the record's order, its last status and that status's time) and the two flags (NULL:
-- never set by us). The phone and text shown come from that message's row in messages.
CREATE TABLE hubspot_records (
    portal_id        BIGINT NOT NULL,
    object_type      TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    last_message_id  UUID,
    last_message_at  TIMESTAMPTZ,
    last_status      TEXT NOT NULL DEFAULT '',
    last_status_at   TIMESTAMPTZ,
    opted_out        BOOLEAN,
    number_invalid   BOOLEAN,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, object_type, object_id)
);

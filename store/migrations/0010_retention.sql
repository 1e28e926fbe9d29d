-- Retention and erasure: message data goes after MESSAGE_RETENTION, a number's data on request;
-- what stays is counted per day, and opt-outs stay as a keyed hash of the number.

-- Messages counted per portal, day (UTC, of the message's creation), channel, final status and
-- country before the retention purge deletes them; statistics of older periods read these.
CREATE TABLE message_daily_counts (
    portal_id  BIGINT NOT NULL,
    day        DATE NOT NULL,
    channel    TEXT NOT NULL,
    status     TEXT NOT NULL,
    country    TEXT NOT NULL,
    count      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (portal_id, day, channel, status, country)
);

-- Messages whose number was erased: a workflow still running learns why it was cancelled here, and
-- its later writes (Publish) are dropped instead of storing the number again. Ids only.
CREATE TABLE erased_messages (
    message_id  UUID PRIMARY KEY,
    portal_id   BIGINT NOT NULL,
    erased_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX erased_messages_at ON erased_messages (erased_at);

-- The purge walks messages oldest first, and finds a message's rows in every table by its id.
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX hubspot_outbox_message ON hubspot_outbox (message_id);
-- Inbound events that reached no message are purged by age.
CREATE INDEX message_events_unrouted ON message_events (received_at) WHERE message_id IS NULL;
-- Suppressions and their history are hashed once old enough (phone becomes 'hash:' + the keyed
-- hash); these find the rows still in clear.
CREATE INDEX suppressions_clear ON suppressions (created_at) WHERE phone NOT LIKE 'hash:%';
CREATE INDEX suppression_events_clear ON suppression_events (at) WHERE phone NOT LIKE 'hash:%';

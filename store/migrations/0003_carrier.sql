-- Carriers (issue 6): exactly-once dispatch bookkeeping and webhook signalling.

-- One row per try to hand a message to a carrier, written before the call (state 'started') and
-- finished after it. A 'started' row without outcome means the worker died mid-call; 'uncertain'
-- means the answer was lost. Neither is resent blindly: dispatch asks the carrier first.
CREATE TABLE dispatch_attempts (
    message_id          UUID NOT NULL,
    attempt             INT NOT NULL,
    carrier             TEXT NOT NULL,
    state               TEXT NOT NULL,                 -- started | accepted | failed | uncertain | abandoned
    carrier_message_id  TEXT NOT NULL DEFAULT '',
    carrier_status      TEXT NOT NULL DEFAULT '',
    segments            INT NOT NULL DEFAULT 0,
    error_class         TEXT NOT NULL DEFAULT '',
    error_code          TEXT NOT NULL DEFAULT '',
    error_message       TEXT NOT NULL DEFAULT '',
    started_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at         TIMESTAMPTZ,
    PRIMARY KEY (message_id, attempt),
    CHECK (state IN ('started', 'accepted', 'failed', 'uncertain', 'abandoned'))
);
-- A message is accepted by a carrier at most once.
CREATE UNIQUE INDEX dispatch_attempts_one_accepted ON dispatch_attempts (message_id) WHERE state = 'accepted';
-- Webhooks find the message of a carrier's message id here before the workflow saved it.
CREATE INDEX dispatch_attempts_carrier_ref ON dispatch_attempts (carrier, carrier_message_id) WHERE carrier_message_id <> '';

-- A carrier event is signalled to its workflow once: the webhook that stores it claims the
-- signal, marks it done, or releases it when Temporal is unreachable so the carrier's retry
-- signals it.
ALTER TABLE message_events ADD COLUMN signal_claimed_at TIMESTAMPTZ;
ALTER TABLE message_events ADD COLUMN signalled_at TIMESTAMPTZ;

-- Replies go to the latest message sent to the number.
CREATE INDEX messages_phone_sent ON messages (phone, sent_at DESC);

-- Voice calls: the script of each call, settled before the call is placed, so that the carrier's
-- webhooks (answer, key pressed) are answered from PostgreSQL alone, whether or not a worker runs.
-- A call's attempts at the carriers are dispatch_attempts rows under the call id, as for SMS.
CREATE TABLE voice_calls (
    call_id          UUID PRIMARY KEY,              -- the message id of the call
    portal_id        BIGINT NOT NULL,
    script           JSONB NOT NULL,                -- voice.Script
    caller           TEXT NOT NULL DEFAULT '',      -- the caller id the call was placed from
    carrier          TEXT NOT NULL DEFAULT '',      -- the carrier that took the call
    carrier_call_id  TEXT NOT NULL DEFAULT '',      -- its id of the call (Twilio CallSid, Vonage uuid)
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    placed_at        TIMESTAMPTZ
);
-- A carrier's event naming only its call id finds the call here.
CREATE INDEX voice_calls_carrier_ref ON voice_calls (carrier, carrier_call_id) WHERE carrier_call_id <> '';

-- The tables queried across messages. The workflow is the source of truth for one message's
-- lifecycle; these rows are what the API, statistics and audits read.

CREATE TABLE portals (
    portal_id        BIGINT PRIMARY KEY,
    -- connected | disconnected (refresh token revoked or app uninstalled)
    status           TEXT NOT NULL DEFAULT 'connected',
    disconnected_at  TIMESTAMPTZ,
    -- timeline: HubSpot timeline events; fallback: properties plus a note engagement
    timeline_mode    TEXT NOT NULL DEFAULT 'timeline',
    -- event kinds switched off (e.g. {"delivered","clicked"}); the send event is always written
    disabled_events  TEXT[] NOT NULL DEFAULT '{}',
    settings         JSONB NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE oauth_tokens (
    portal_id          BIGINT PRIMARY KEY REFERENCES portals(portal_id) ON DELETE CASCADE,
    -- oauth | private_app
    kind               TEXT NOT NULL,
    -- AES-GCM ciphertexts (nonce prepended); never plain tokens
    access_token_enc   BYTEA NOT NULL,
    refresh_token_enc  BYTEA,
    expires_at         TIMESTAMPTZ,
    scopes             TEXT[] NOT NULL DEFAULT '{}',
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE messages (
    id                  UUID PRIMARY KEY,
    portal_id           BIGINT NOT NULL,
    object_type         TEXT NOT NULL,
    object_id           TEXT NOT NULL,
    channel             TEXT NOT NULL DEFAULT 'sms',        -- sms | voice | ivr
    phone               TEXT NOT NULL DEFAULT '',           -- E.164 once resolved
    country             TEXT NOT NULL DEFAULT '',
    sender              TEXT NOT NULL DEFAULT '',
    sending_user        TEXT NOT NULL DEFAULT '',
    campaign            TEXT NOT NULL DEFAULT '',
    message_type        TEXT NOT NULL DEFAULT 'marketing',  -- marketing | transactional
    text                TEXT NOT NULL DEFAULT '',
    encoding            TEXT NOT NULL DEFAULT '',
    segments            INT NOT NULL DEFAULT 0,
    status              TEXT NOT NULL,
    error_code          TEXT NOT NULL DEFAULT '',
    error_message       TEXT NOT NULL DEFAULT '',
    carrier             TEXT NOT NULL DEFAULT '',
    carrier_message_id  TEXT NOT NULL DEFAULT '',
    callback_id         TEXT NOT NULL DEFAULT '',
    workflow_id         TEXT NOT NULL DEFAULT '',
    send_at             TIMESTAMPTZ,
    sent_at             TIMESTAMPTZ,
    delivered_at        TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX messages_portal_record ON messages (portal_id, object_type, object_id, created_at DESC);
CREATE INDEX messages_portal_phone ON messages (portal_id, phone, created_at DESC);
CREATE INDEX messages_campaign ON messages (portal_id, campaign);
CREATE UNIQUE INDEX messages_carrier_ref ON messages (carrier, carrier_message_id) WHERE carrier_message_id <> '';

-- Every status change and carrier report, in arrival order; a carrier event is stored once.
CREATE TABLE message_events (
    seq               BIGSERIAL PRIMARY KEY,
    message_id        UUID,                 -- NULL when the report names an unknown message
    source            TEXT NOT NULL,        -- workflow | carrier name | link | unsubscribe
    source_event_id   TEXT NOT NULL,        -- carrier event identity, or message id + status
    kind              TEXT NOT NULL,        -- status | delivery | click | reply | keypress
    status            TEXT NOT NULL DEFAULT '',
    detail            JSONB NOT NULL DEFAULT '{}',
    occurred_at       TIMESTAMPTZ NOT NULL,
    received_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (source, source_event_id)
);
CREATE INDEX message_events_message ON message_events (message_id, seq);

-- Opt-outs, per portal and channel.
CREATE TABLE suppressions (
    portal_id   BIGINT NOT NULL,
    channel     TEXT NOT NULL,
    phone       TEXT NOT NULL,
    reason      TEXT NOT NULL,     -- stop_reply | unsubscribe_link | carrier_opt_out | manual
    message_id  UUID,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (portal_id, channel, phone)
);

CREATE TABLE short_links (
    code        TEXT PRIMARY KEY,
    message_id  UUID NOT NULL,
    portal_id   BIGINT NOT NULL,
    target_url  TEXT NOT NULL,
    clicks      INT NOT NULL DEFAULT 0,
    first_click TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX short_links_message ON short_links (message_id);

-- Sends counted per sender number or sending user, per period ('2026-11-25' day, '2026-11' month).
CREATE TABLE quota_usage (
    portal_id  BIGINT NOT NULL,
    scope      TEXT NOT NULL,     -- sender | user
    subject    TEXT NOT NULL,
    period     TEXT NOT NULL,
    used       INT NOT NULL DEFAULT 0,
    PRIMARY KEY (portal_id, scope, subject, period)
);

CREATE TABLE quota_limits (
    portal_id  BIGINT NOT NULL,
    scope      TEXT NOT NULL,
    subject    TEXT NOT NULL,     -- '*' for the portal default
    per_day    INT NOT NULL DEFAULT 5000,
    per_month  INT NOT NULL DEFAULT 10000,
    on_exceed  TEXT NOT NULL DEFAULT 'reject',  -- reject | defer
    PRIMARY KEY (portal_id, scope, subject)
);

CREATE TABLE templates (
    id          UUID PRIMARY KEY,
    portal_id   BIGINT NOT NULL,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (portal_id, name)
);

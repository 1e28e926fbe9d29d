-- A portal's HubSpot budget, shared by every process calling HubSpot for it, and the HubSpot
-- action completions the outbox sender makes in batches.

-- The budget of one portal: a token bucket (tokens, refilled at a steady rate up to a burst, as of
-- refilled_at) for the ten-secondly limit, and the calls of the portal's current day for the daily
-- limit. hubspot_budget_take takes from it in one short statement.
CREATE TABLE hubspot_budget (
    portal_id    BIGINT PRIMARY KEY,
    tokens       DOUBLE PRECISION NOT NULL,
    refilled_at  TIMESTAMPTZ NOT NULL,
    day          DATE NOT NULL,
    day_used     BIGINT NOT NULL DEFAULT 0
);

-- hubspot_budget_take grants up to p_want calls of a portal: as many as the bucket holds above
-- p_reserve (the calls kept for callers of a higher priority) and the day allows below its
-- p_daily_reserve share. The daily limit is p_daily unless the portal's settings name
-- hubspot_daily_limit. With nothing granted, wait_seconds is when the bucket will hold enough,
-- and day_spent says the day's budget is what is missing. p_now NULL: the database's clock.
CREATE FUNCTION hubspot_budget_take(p_portal BIGINT, p_want INT, p_reserve DOUBLE PRECISION, p_rate DOUBLE PRECISION,
    p_burst DOUBLE PRECISION, p_daily BIGINT, p_daily_reserve DOUBLE PRECISION, p_day DATE, p_now TIMESTAMPTZ,
    OUT granted INT, OUT wait_seconds DOUBLE PRECISION, OUT day_spent BOOLEAN, OUT used_today BIGINT, OUT daily_limit BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    b        hubspot_budget%ROWTYPE;
    t_now    TIMESTAMPTZ := coalesce(p_now, clock_timestamp());
    override TEXT;
    day_left BIGINT;
BEGIN
    SELECT settings->>'hubspot_daily_limit' INTO override FROM portals WHERE portal_id = p_portal;
    daily_limit := p_daily;
    IF override ~ '^[0-9]{1,15}$' THEN
        daily_limit := override::BIGINT;
    END IF;
    INSERT INTO hubspot_budget (portal_id, tokens, refilled_at, day) VALUES (p_portal, p_burst, t_now, p_day)
        ON CONFLICT (portal_id) DO NOTHING;
    SELECT * INTO b FROM hubspot_budget WHERE portal_id = p_portal FOR UPDATE;
    b.tokens := least(p_burst, b.tokens + p_rate * greatest(0, extract(epoch FROM t_now - b.refilled_at)));
    b.refilled_at := greatest(b.refilled_at, t_now);
    IF p_day > b.day THEN
        b.day := p_day;
        b.day_used := 0;
    END IF;
    day_left := daily_limit - floor(daily_limit * p_daily_reserve)::BIGINT - b.day_used;
    granted := greatest(0, least(p_want::BIGINT, floor(b.tokens - p_reserve)::BIGINT, day_left))::INT;
    b.tokens := b.tokens - granted;
    b.day_used := b.day_used + granted;
    UPDATE hubspot_budget SET tokens = b.tokens, refilled_at = b.refilled_at, day = b.day, day_used = b.day_used
        WHERE portal_id = p_portal;
    day_spent := granted = 0 AND day_left <= 0;
    used_today := b.day_used;
    wait_seconds := 0;
    IF granted = 0 AND NOT day_spent THEN
        wait_seconds := (floor(p_reserve) + 1 - b.tokens) / p_rate;
    END IF;
END $$;

-- One HubSpot action execution to complete (its callbackId), with the outputs the message's
-- workflow reached. CompleteAction writes it and leaves its activity pending; the outbox sender
-- completes due rows in batches, then the activity through its task token (the latest attempt's).
CREATE TABLE hubspot_completions (
    callback_id      TEXT PRIMARY KEY,
    portal_id        BIGINT NOT NULL,
    message_id       UUID,
    outputs          JSONB NOT NULL,
    task_token       BYTEA,
    -- pending until HubSpot took it (done) or refused it or the tries ran out (dead)
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    -- a dead row's failure as the activity reports it: HubSpotPermanent is stored on the message
    -- and ends the step, anything else fails it
    error_type       TEXT NOT NULL DEFAULT '',
    last_error       TEXT NOT NULL DEFAULT '',
    attempts         INT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    claim_id         UUID,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ
);
CREATE INDEX hubspot_completions_due ON hubspot_completions (portal_id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX hubspot_completions_finished ON hubspot_completions (finished_at) WHERE state <> 'pending';

-- Completions have a lease of their own per portal, so they go while the portal's outbox backlog
-- is delivered by another pass.
ALTER TABLE hubspot_outbox_portals
    ADD COLUMN completion_owner TEXT NOT NULL DEFAULT '',
    ADD COLUMN completion_lease_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity';

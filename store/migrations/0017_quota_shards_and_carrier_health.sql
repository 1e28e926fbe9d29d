-- Quotas without a hot row. A quota's count is split across shard rows (quota_usage_shards), so
-- concurrent messages of one sender lock different rows. The period's row in quota_usage becomes
-- the pool the shards draw capacity from, in blocks: granted is the capacity handed to its shards
-- under the limit quota_limit, and used keeps what workers before this migration counted on it
-- directly. Counted = used + the shards' used; used + granted never exceeds quota_limit.
ALTER TABLE quota_usage ADD COLUMN granted INT NOT NULL DEFAULT 0;
ALTER TABLE quota_usage ADD COLUMN quota_limit INT;

CREATE TABLE quota_usage_shards (
    portal_id  BIGINT NOT NULL,
    scope      TEXT NOT NULL,
    subject    TEXT NOT NULL,
    period     TEXT NOT NULL,
    shard      SMALLINT NOT NULL,
    used       INT NOT NULL DEFAULT 0,   -- messages counted on this shard
    allotted   INT NOT NULL DEFAULT 0,   -- capacity drawn from the pool; used <= allotted
    PRIMARY KEY (portal_id, scope, subject, period, shard),
    CHECK (used <= allotted)
);

-- Carrier health reads a carrier's recent attempts (accepted ones and errors) by finish time.
CREATE INDEX dispatch_attempts_carrier_finished ON dispatch_attempts (carrier, finished_at);

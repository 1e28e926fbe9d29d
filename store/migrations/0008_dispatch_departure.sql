-- Dispatch attempts tell "never left" from "maybe left": an attempt is recorded 'prepared' before
-- the carrier call and becomes 'sending' right before the request's body leaves; a 'prepared'
-- attempt whose worker died is sent again, a 'sending' one is uncertain. 'partial' is a multipart
-- message the carrier took in part (part_ids names the parts taken). 'started' is what workers
-- before this migration write; it means the same as 'sending', and stays allowed so that they
-- keep working during a rolling deploy.
ALTER TABLE dispatch_attempts DROP CONSTRAINT dispatch_attempts_state_check;
-- NOT VALID: the new set contains every old state, so the existing rows need no scan.
ALTER TABLE dispatch_attempts ADD CONSTRAINT dispatch_attempts_state_check
    CHECK (state IN ('prepared', 'sending', 'started', 'accepted', 'failed', 'uncertain', 'partial', 'abandoned')) NOT VALID;
-- One entry per part of the carrier's answer: the carrier's id of a part taken, '' for a part
-- refused. Empty for carriers that answer for the whole message.
ALTER TABLE dispatch_attempts ADD COLUMN part_ids TEXT[] NOT NULL DEFAULT '{}';

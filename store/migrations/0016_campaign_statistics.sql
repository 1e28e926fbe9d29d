-- Campaign statistics and exports read a campaign's messages in order, then each message's status
-- events.

-- A portal's campaign, its messages oldest first (with id to break ties, so an export walks the
-- index in the order it writes). It covers what messages_campaign of 0001 served.
CREATE INDEX messages_portal_campaign ON messages (portal_id, campaign, created_at, id);
DROP INDEX messages_campaign;

-- A message's lifecycle statuses (SMS_SENT, SMS_DELIVERED, …), read from the index alone: the
-- figures flag each message by the statuses it reached.
CREATE INDEX message_events_message_status ON message_events (message_id, status) WHERE kind = 'status';

-- Disappearing messages: the sender's expiry (epoch milliseconds), routing
-- metadata in the clear, so a queued copy goes at that time even if its
-- device never connects. NULL for everything else.
ALTER TABLE queue ADD COLUMN expires_at bigint;

-- The hourly sweep finds expired rows without scanning every queue.
CREATE INDEX queue_expires_at ON queue (expires_at) WHERE expires_at IS NOT NULL;

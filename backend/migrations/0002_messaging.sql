-- Per-device durable queues, presence and receipt settings.

ALTER TABLE users
    ADD COLUMN last_seen_at timestamptz,
    ADD COLUMN read_receipts boolean NOT NULL DEFAULT true,
    ADD COLUMN last_seen_visibility text NOT NULL DEFAULT 'everyone'
        CHECK (last_seen_visibility IN ('everyone', 'contacts', 'nobody'));

-- What a device has not yet acknowledged. A message row's id is the sender's
-- message id, so a retried send cannot add a second row. `frame` is the
-- encoded server frame, sent as-is when the device drains its queue.
CREATE TABLE queue (
    device_id  uuid NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    row_id     uuid NOT NULL,
    seq        bigint NOT NULL,              -- delivery order (server time in µs, monotonic per node)
    kind       smallint NOT NULL,            -- 0 message, 1 receipt
    sender_id  uuid NOT NULL,
    frame      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, row_id)
);
CREATE INDEX queue_drain ON queue (device_id, seq);
CREATE INDEX queue_expiry ON queue (created_at);

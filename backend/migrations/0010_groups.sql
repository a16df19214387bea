-- Groups: the signed log of changes, the membership it makes, and group
-- messages' bodies stored once for every device that waits for them.

CREATE TABLE groups (
    id          uuid PRIMARY KEY,
    seq         bigint NOT NULL,          -- the last event
    head        bytea NOT NULL,           -- its hash, which the next event names
    name        text NOT NULL,
    description text NOT NULL,
    admins_send boolean NOT NULL DEFAULT false,
    admins_edit boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Each event as its device signed it, with the key the server checked the
-- signature with (the device may be gone when a later member reads it).
CREATE TABLE group_events (
    group_id   uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    event      jsonb NOT NULL,
    signature  text NOT NULL,
    signer_key text NOT NULL,
    at         bigint NOT NULL,
    PRIMARY KEY (group_id, seq)
);

-- Members and former members: a former member (left_seq set) reads the log
-- up to the event that took them out, and gets nothing sent after it.
CREATE TABLE group_members (
    group_id uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    admin    boolean NOT NULL,
    since    bigint NOT NULL,
    left_seq bigint,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- A group message's frame, once: each offline member device's queue row
-- names it (its own `frame` NULL), and it goes with the last such row.
CREATE TABLE queue_bodies (
    sender_id  uuid NOT NULL,
    row_id     uuid NOT NULL,
    frame      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sender_id, row_id)
);
ALTER TABLE queue ALTER COLUMN frame DROP NOT NULL;
-- Finds whether a body is still named, when rows are acked or expire.
CREATE INDEX queue_shared ON queue (row_id) WHERE frame IS NULL;

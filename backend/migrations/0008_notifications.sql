-- Web Push: one subscription per device (a browser), gone with the device.
-- `fetch_hash` is the SHA-256 of the service worker's capability to read
-- this device's queue (`GET /push/pending`), and nothing else.
CREATE TABLE push_subscriptions (
    device_id  uuid PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    endpoint   text NOT NULL,
    p256dh     bytea NOT NULL,
    auth       bytea NOT NULL,
    fetch_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Per account, the same on each of its devices: the push sender reads them.
CREATE TABLE notification_settings (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    dnd     boolean NOT NULL DEFAULT false
);

-- A muted chat (`d:<uuid>` or `g:<uuid>`); `until` NULL mutes until unmuted.
CREATE TABLE chat_mutes (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat    text NOT NULL,
    until   bigint,
    PRIMARY KEY (user_id, chat)
);

-- Keys the server makes once and keeps (the VAPID signing key), shared by
-- every node on this database.
CREATE TABLE server_keys (
    name   text PRIMARY KEY,
    secret bytea NOT NULL
);

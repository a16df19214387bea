-- The public key directory: each device's identity keys, its unclaimed
-- one-time keys (each handed out once), and its fallback key.

CREATE TABLE device_keys (
    device_id         uuid PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    curve25519        bytea NOT NULL,
    ed25519           bytea NOT NULL,
    signature         bytea NOT NULL,
    fallback_key_id   text,
    fallback_key      bytea,
    fallback_signature bytea,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE one_time_keys (
    device_id  uuid NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    key_id     text NOT NULL,
    public_key bytea NOT NULL,
    signature  bytea NOT NULL,
    PRIMARY KEY (device_id, key_id)
);

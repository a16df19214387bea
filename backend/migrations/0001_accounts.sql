-- Accounts, their devices (one per signed-in browser) and contact lists.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    handle        text NOT NULL UNIQUE,           -- normalised: E.164 or lower-case username
    display_name  text NOT NULL,
    about         text NOT NULL DEFAULT '',
    password_hash text NOT NULL,                  -- argon2id PHC string
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- A device row exists exactly as long as its token is valid: revoking deletes it.
CREATE TABLE devices (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name           text NOT NULL,
    token_hash     bytea NOT NULL UNIQUE,         -- SHA-256 of the bearer token; the token itself is never stored
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_active_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_user_id ON devices(user_id);

CREATE TABLE contacts (
    owner_id   uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, contact_id),
    CHECK (owner_id <> contact_id)
);
